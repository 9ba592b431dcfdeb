{{- define "faktory.fullname" -}}
{{- printf "%s-faktory" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "faktory.labels" -}}
app.kubernetes.io/name: faktory
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
