{{/* The name of every object the chart creates (namespaced ones in the release namespace). */}}
{{- define "portal.name" -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "portal.webhookService" -}}
{{- printf "%s-webhook" (include "portal.name" .) -}}
{{- end -}}

{{- define "portal.tlsSecret" -}}
{{- printf "%s-webhook-tls" (include "portal.name" .) -}}
{{- end -}}

{{- define "portal.selectorLabels" -}}
app.kubernetes.io/name: portal
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "portal.labels" -}}
{{ include "portal.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "portal.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* Whether anything needs a leader: the managed webhook rules or the audit. */}}
{{- define "portal.needsLeader" -}}
{{- if or (and .Values.admission.enabled .Values.admission.manageWebhookRules) .Values.audit.enabled .Values.actions.enabled -}}true{{- end -}}
{{- end -}}

{{/* The namespaces never sent to Portal: the configured ones and Portal's own. */}}
{{- define "portal.excludedNamespaces" -}}
{{- $excluded := .Values.admission.excludedNamespaces | default list -}}
{{- if not (has .Release.Namespace $excluded) -}}
{{- $excluded = append $excluded .Release.Namespace -}}
{{- end -}}
{{- toJson $excluded -}}
{{- end -}}
