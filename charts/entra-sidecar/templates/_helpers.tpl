{{/* Chart name, at most 63 characters. */}}
{{- define "entra-sidecar.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, with the chart name unless the release already holds it. */}}
{{- define "entra-sidecar.fullname" -}}
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

{{- define "entra-sidecar.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries, without a component. */}}
{{- define "entra-sidecar.commonLabels" -}}
helm.sh/chart: {{ include "entra-sidecar.chart" . }}
app.kubernetes.io/name: {{ include "entra-sidecar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: entra-sidecar
{{- end }}

{{/* Labels of the webhook's objects. */}}
{{- define "entra-sidecar.labels" -}}
{{ include "entra-sidecar.commonLabels" . }}
app.kubernetes.io/component: webhook
{{- end }}

{{/* Labels that select the webhook's pods. */}}
{{- define "entra-sidecar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "entra-sidecar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end }}

{{- define "entra-sidecar.serviceAccountName" -}}
{{- default (include "entra-sidecar.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{/* Name of the Service, the MutatingWebhookConfiguration and the self-managed TLS Secret's prefix. */}}
{{- define "entra-sidecar.webhookConfigName" -}}
{{- include "entra-sidecar.fullname" . }}
{{- end }}

{{/* Secret holding the webhook's serving certificate (and, when self-managed or from cert-manager, its CA). */}}
{{- define "entra-sidecar.tlsSecretName" -}}
{{- if eq .Values.tls.mode "existingSecret" }}
{{- .Values.tls.existingSecret.name }}
{{- else }}
{{- printf "%s-tls" (include "entra-sidecar.fullname" .) }}
{{- end }}
{{- end }}

{{/* The DNS name the API server calls, also the certificate's subject. */}}
{{- define "entra-sidecar.serviceHost" -}}
{{- printf "%s.%s.svc" (include "entra-sidecar.fullname" .) .Release.Namespace }}
{{- end }}

{{/* repository[:tag][@digest] from an image block, falling back to another block then appVersion. */}}
{{- define "entra-sidecar.imageRef" -}}
{{- $img := index . 0 }}{{- $fallback := index . 1 }}{{- $appVersion := index . 2 }}
{{- $repository := default $fallback.repository $img.repository }}
{{- $digest := default $fallback.digest $img.digest }}
{{- $tag := default (default $appVersion $fallback.tag) $img.tag }}
{{- if $digest }}
{{- printf "%s@%s" $repository $digest }}
{{- else }}
{{- printf "%s:%s" $repository $tag }}
{{- end }}
{{- end }}

{{- define "entra-sidecar.image" -}}
{{- include "entra-sidecar.imageRef" (list .Values.image .Values.image .Chart.AppVersion) }}
{{- end }}

{{- define "entra-sidecar.sidecarImage" -}}
{{- include "entra-sidecar.imageRef" (list .Values.sidecar.image .Values.image .Chart.AppVersion) }}
{{- end }}

{{/* Where the webhook reads its certificate files in the certManager and existingSecret modes. */}}
{{- define "entra-sidecar.tlsMountPath" -}}
/etc/entra-sidecar/tls
{{- end }}

{{/* The webhook's restricted security context (Pod Security Standard "restricted"). */}}
{{- define "entra-sidecar.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "entra-sidecar.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Checks that values.schema.json cannot express; a failure names the values to change. */}}
{{- define "entra-sidecar.validate" -}}
{{- if eq (int .Values.sidecar.port) (int .Values.sidecar.healthPort) }}
{{- fail (printf "sidecar.port and sidecar.healthPort are both %v: the token endpoint and the health/metrics port need two different ports" .Values.sidecar.port) }}
{{- end }}
{{- if eq (int .Values.webhook.port) (int .Values.webhook.healthPort) }}
{{- fail (printf "webhook.port and webhook.healthPort are both %v: HTTPS admission and plain-HTTP health need two different ports" .Values.webhook.port) }}
{{- end }}
{{- end }}
