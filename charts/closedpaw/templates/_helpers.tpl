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
