{{- define "closedpaw.name" -}}{{ .Release.Name }}-closedpaw{{- end -}}
{{- define "closedpaw.labels" -}}
app.kubernetes.io/name: closedpaw
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
