{{- define "alertrun.labels" -}}
app.kubernetes.io/name: alertrun
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "alertrun.selectorLabels" -}}
app.kubernetes.io/name: alertrun
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "alertrun.tokenSecret" -}}
{{- .Values.token.existingSecret | default (printf "%s-token" .Release.Name) -}}
{{- end }}
