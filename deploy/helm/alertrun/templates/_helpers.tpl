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

{{- /*
  The pod of alertrun: the Deployment's (one replica), or with ha.enabled the StatefulSet's,
  which adds the pod's name and IP (server.ha's replica name and URL) and a preference for
  separate nodes, and takes the state volume from its volumeClaimTemplates instead.
*/}}
{{- define "alertrun.podTemplate" -}}
metadata:
  labels:
    {{- include "alertrun.selectorLabels" . | nindent 4 }}
  annotations:
    # Restart on config changes made through the chart.
    checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
spec:
  serviceAccountName: {{ .Release.Name }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    seccompProfile:
      type: RuntimeDefault
  {{- if .Values.ha.enabled }}
  affinity:
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: kubernetes.io/hostname
            labelSelector:
              matchLabels:
                {{- include "alertrun.selectorLabels" . | nindent 16 }}
  {{- end }}
  containers:
    - name: alertrun
      image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["serve", "-c", "/etc/alertrun/alertrun.yaml"]
      {{- if .Values.ha.enabled }}
      env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_IP
          valueFrom:
            fieldRef:
              fieldPath: status.podIP
      {{- end }}
      ports:
        - name: http
          containerPort: 9095
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /-/healthy
          port: http
        periodSeconds: 10
        failureThreshold: 3
      readinessProbe:
        httpGet:
          path: /-/ready
          port: http
        periodSeconds: 5
        failureThreshold: 2
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        runAsNonRoot: true
        runAsUser: 65532
        capabilities:
          drop: [ALL]
        seccompProfile:
          type: RuntimeDefault
      volumeMounts:
        - name: config
          mountPath: /etc/alertrun
          readOnly: true
        - name: token
          mountPath: /etc/alertrun/token
          readOnly: true
        - name: state
          mountPath: /var/lib/alertrun
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: config
      configMap:
        name: {{ .Release.Name }}-config
    - name: token
      secret:
        secretName: {{ include "alertrun.tokenSecret" . }}
        defaultMode: 288
        items:
          - key: {{ .Values.token.key }}
            path: token
    {{- if not .Values.ha.enabled }}
    - name: state
      {{- if .Values.persistence.enabled }}
      persistentVolumeClaim:
        claimName: {{ .Values.persistence.existingClaim | default (printf "%s-state" .Release.Name) }}
      {{- else }}
      emptyDir: {}
      {{- end }}
    {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
{{- end }}
