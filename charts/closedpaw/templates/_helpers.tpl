{{- define "closedpaw.name" -}}
{{- if contains "closedpaw" .Release.Name }}{{ .Release.Name }}{{ else }}{{ .Release.Name }}-closedpaw{{ end -}}
{{- end -}}
{{- define "closedpaw.labels" -}}
app.kubernetes.io/name: closedpaw
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
{{- define "closedpaw.serviceAccountUser" -}}
system:serviceaccount:{{ .Release.Namespace }}:{{ include "closedpaw.name" . }}
{{- end -}}

{{/* The operator pods (and the gateway in them): what the Services and NetworkPolicies select. */}}
{{- define "closedpaw.operatorSelector" -}}
app.kubernetes.io/name: closedpaw
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The in-cluster Ollama's pods. */}}
{{- define "closedpaw.ollamaSelector" -}}
app.kubernetes.io/name: closedpaw-ollama
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The helm test pod: the only pod besides agents that may call the gateway, and the only one that may read /readyz. */}}
{{- define "closedpaw.testSelector" -}}
app.kubernetes.io/name: closedpaw-test
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* repository@digest when a digest is given (what a node without a registry needs), else repository:tag. */}}
{{- define "closedpaw.image" -}}
{{- if .digest }}{{ .repository }}@{{ .digest }}{{ else }}{{ .repository }}:{{ .tag }}{{ end -}}
{{- end -}}

{{- define "closedpaw.ollamaName" -}}
{{ include "closedpaw.name" . }}-ollama
{{- end -}}

{{/* Where the gateway forwards: the in-cluster Ollama (by its fixed ClusterIP when one is set), else ollama.url. */}}
{{- define "closedpaw.ollamaUrl" -}}
{{- if not .Values.ollama.enabled -}}
{{ .Values.ollama.url }}
{{- else if .Values.ollama.service.clusterIP -}}
http://{{ .Values.ollama.service.clusterIP }}:{{ .Values.ollama.service.port }}
{{- else -}}
http://{{ include "closedpaw.ollamaName" . }}.{{ .Release.Namespace }}.svc:{{ .Values.ollama.service.port }}
{{- end -}}
{{- end -}}

{{- define "closedpaw.uiTokenSecret" -}}
{{ .Values.uiTokenSecret | default (printf "%s-ui-token" (include "closedpaw.name" .)) }}
{{- end -}}

{{/* The restricted-profile container hardening every pod of the chart carries. */}}
{{- define "closedpaw.containerSecurityContext" -}}
runAsNonRoot: true
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities: { drop: [ALL] }
seccompProfile: { type: RuntimeDefault }
{{- end -}}
{{- define "closedpaw.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile: { type: RuntimeDefault }
{{- end -}}
