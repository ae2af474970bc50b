{{/*
The alerting rules, in one place: the PrometheusRule ships them, and scripts/render-deploy.sh
writes the same groups to deploy/prometheus-rules.yaml for Prometheus without the operator.
Sidecar series carry the namespace and pod labels that a PodMonitor (or the equivalent
kubernetes_sd relabelling) adds.
*/}}
{{- define "entra-sidecar.alertGroups" -}}
{{- $rule := .Values.monitoring.prometheusRule }}
{{- $job := default (include "entra-sidecar.fullname" .) $rule.webhookJob }}
{{- $threshold := int $rule.tokenExpiryThresholdSeconds }}
{{- $credentialThreshold := int $rule.credentialExpiryThresholdSeconds -}}
groups:
  - name: entra-sidecar.sidecar
    rules:
      - alert: EntraSidecarTokenExpiringSoon
        expr: (entra_sidecar_token_expiry_timestamp_seconds > 0) - time() < {{ $threshold }}
        for: 1m
        labels:
          severity: warning
        annotations:
          summary: {{ printf "Token %s in %s expires in less than %s" `{{ $labels.target }}` `{{ $labels.namespace }}/{{ $labels.pod }}` (include "entra-sidecar.humanSeconds" $threshold) | quote }}
          description: >-
            The sidecar refreshes a token when half its lifetime is left (at the latest 5 minutes
            before expiry), so one this close to expiry means refreshes have been failing. See
            entra_sidecar_exchange_errors_total for the reason (an AADSTS code, HTTP status or
            network error) and the sidecar container's log.
      - alert: EntraSidecarCredentialExpiringSoon
        expr: (entra_sidecar_credential_expiry_timestamp_seconds > 0) - time() < {{ $credentialThreshold }}
        for: 10m
        labels:
          severity: warning
        annotations:
          summary: {{ printf "The client certificate of %s expires in less than %s" `{{ $labels.namespace }}/{{ $labels.pod }}` (include "entra-sidecar.humanSeconds" $credentialThreshold) | quote }}
          description: >-
            The sidecar authenticates with a client certificate (entra-sidecar.io/client-certificate)
            whose notAfter is near. Once it has passed, Entra refuses it (AADSTS700027) and no token
            can be refreshed. Create a new certificate, add it to the app registration, then put it
            in the pod's Secret: the sidecar uses it from its next exchange, without a restart.
      - alert: EntraSidecarRefreshFailing
        expr: |-
          (sum by (namespace, pod, target) (increase(entra_sidecar_refreshes_total{result="failure"}[5m])) > 0)
          unless
          (sum by (namespace, pod, target) (increase(entra_sidecar_refreshes_total{result="success"}[5m])) > 0)
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: {{ printf "Token refreshes for %s in %s have failed for 5 minutes" `{{ $labels.target }}` `{{ $labels.namespace }}/{{ $labels.pod }}` | quote }}
          description: >-
            Every refresh in the last 5 minutes failed. The token held is still served until it
            expires. Common causes: AADSTS70021 (no federated credential matches the
            service account's issuer, subject or audience), AADSTS700016 (wrong client id),
            network or DNS failures reaching the authority host.
      - alert: EntraSidecarNotReady
        expr: entra_sidecar_ready == 0
        for: 10m
        labels:
          severity: warning
        annotations:
          summary: {{ printf "Sidecar in %s has held no valid token for a target for 10 minutes" `{{ $labels.namespace }}/{{ $labels.pod }}` | quote }}
          description: >-
            /readyz has answered 503 for 10 minutes: at least one configured target has no valid
            token. Check the sidecar's log and entra_sidecar_exchange_errors_total.
  - name: entra-sidecar.webhook
    rules:
      - alert: EntraSidecarWebhookErrors
        expr: sum by (namespace, job) (rate(entra_sidecar_webhook_admissions_total{result="error"}[5m])) > 0
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: {{ printf "The entra-sidecar webhook %s has failed admissions for 5 minutes" `{{ $labels.namespace }}/{{ $labels.job }}` | quote }}
          description: >-
            Admission requests end in an error (not a deliberate denial). With failurePolicy
            Fail those pods are not created. Check the webhook's log and
            entra_sidecar_webhook_serviceaccount_lookup_errors_total.
      - alert: EntraSidecarWebhookDenials
        expr: sum by (namespace, job) (rate(entra_sidecar_webhook_admissions_total{result="denied"}[15m])) > 0
        for: 15m
        labels:
          severity: warning
        annotations:
          summary: {{ printf "The entra-sidecar webhook %s keeps denying pods" `{{ $labels.namespace }}/{{ $labels.job }}` | quote }}
          description: >-
            Pods that ask for injection keep being refused, usually a controller retrying a
            misconfigured pod: no client id on the pod or its ServiceAccount, an invalid
            annotation, or hostNetwork. `kubectl get events -A --field-selector reason=FailedCreate`
            shows the webhook's message.
      - alert: EntraSidecarWebhookSlow
        expr: histogram_quantile(0.99, sum by (namespace, job, le) (rate(entra_sidecar_webhook_admission_duration_seconds_bucket[5m]))) > 2.5
        for: 10m
        labels:
          severity: warning
        annotations:
          summary: {{ printf "The entra-sidecar webhook %s takes over 2.5 s for 1%% of admissions" `{{ $labels.namespace }}/{{ $labels.job }}` | quote }}
          description: >-
            The API server gives up after {{ .Values.webhook.timeoutSeconds }} s. Slow answers usually
            mean slow ServiceAccount lookups (API server load) or a starved webhook (CPU).
      - alert: EntraSidecarWebhookDown
        expr: absent(up{job={{ $job | quote }}, namespace={{ .Release.Namespace | quote }}} == 1)
        for: 2m
        labels:
          severity: critical
          namespace: {{ .Release.Namespace | quote }}
          job: {{ $job | quote }}
        annotations:
          summary: {{ printf "No entra-sidecar webhook replica in %s has been up for 2 minutes" .Release.Namespace | quote }}
          description: >-
            Prometheus reaches no webhook replica. With failurePolicy {{ .Values.webhook.failurePolicy }},
            {{- if eq .Values.webhook.failurePolicy "Fail" }} pods that opt in are not created until
            it is back.{{ else }} pods that opt in start without their sidecar until it is back.{{ end }}
            `kubectl -n {{ .Release.Namespace }} get pods -l app.kubernetes.io/component=webhook`.
{{- end }}

{{/* 600 → "10 minutes", 90 → "90 seconds". */}}
{{- define "entra-sidecar.humanSeconds" -}}
{{- if and (ge (int .) 172800) (eq (mod (int .) 86400) 0) }}{{ div (int .) 86400 }} days{{ else if and (ge (int .) 7200) (eq (mod (int .) 3600) 0) }}{{ div (int .) 3600 }} hours{{ else if and (ge (int .) 120) (eq (mod (int .) 60) 0) }}{{ div (int .) 60 }} minutes{{ else }}{{ . }} seconds{{ end }}
{{- end }}
