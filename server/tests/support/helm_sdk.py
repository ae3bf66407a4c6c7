"""Helm's own SDK for server/tests/deploy.rs: render a chart as `helm template` does and
lint it as `helm lint` does, through PyPI's helm-python-sdk (import `helm_python`: Helm
v4's Go SDK as a shared library, driven with ctypes; it ships no `helm` binary).
scripts/test installs it into a venv of its own.

    helm_sdk.py version
    helm_sdk.py template CHART RELEASE NAMESPACE VALUES_JSON
    helm_sdk.py lint CHART VALUES_JSON [KUBE_VERSION]

Each prints one JSON document: the versions; the rendered manifests as
{"template path": "YAML stream"}; the lint report {"messages": [{"severity", "path",
"error"}], "errors": [...]}. Exit status 3: the SDK is not installed; 1: Helm refused
(the message on stderr).
"""

import json
import sys

try:
    import helm_python as helm
except ImportError as exc:
    print(f"helm-python-sdk is not installed for {sys.executable}: {exc}", file=sys.stderr)
    sys.exit(3)


def main(args):
    if args[:1] == ["version"]:
        return {"sdk": helm.__version__, "helm": helm.helm_sdk_version()}
    if args[:1] == ["template"] and len(args) == 5:
        _, chart, release, namespace, values = args
        with helm.Chart.load(chart) as loaded:
            return loaded.render(
                json.loads(values), name=release, namespace=namespace, is_install=True
            )
    if args[:1] == ["lint"] and len(args) in (3, 4):
        kube_version = args[3] if len(args) == 4 else None
        return helm.lint(args[1], json.loads(args[2]), strict=True, kube_version=kube_version)
    print(__doc__, file=sys.stderr)
    sys.exit(2)


try:
    json.dump(main(sys.argv[1:]), sys.stdout)
except helm.HelmError as exc:
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(1)
