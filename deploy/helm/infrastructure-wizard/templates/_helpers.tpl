{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "wizard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name for every object. */}}
{{- define "wizard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "wizard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "wizard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wizard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "wizard.labels" -}}
helm.sh/chart: {{ include "wizard.chart" . }}
{{ include "wizard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is given. */}}
{{- define "wizard.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret every credential comes from; rendering fails without it. */}}
{{- define "wizard.secretName" -}}
{{- required "existingSecret is required: a Secret with SLACK_BOT_TOKEN and the mode's Slack credential" .Values.existingSecret }}
{{- end }}

{{- define "wizard.socketMode" -}}
{{- if eq .Values.slack.mode "socket" }}true{{- else if eq .Values.slack.mode "http" }}{{- else }}{{- fail (printf "slack.mode must be http or socket, not %q" .Values.slack.mode) }}{{- end }}
{{- end }}

{{- define "wizard.hasFiles" -}}
{{- if or .Values.files.catalog .Values.files.freezes }}true{{- end }}
{{- end }}
