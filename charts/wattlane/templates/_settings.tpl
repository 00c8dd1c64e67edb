{{/*
The non-secret settings of one component, as {NAME: value} without the WATTLANE_<PREFIX>_ prefix:
the ConfigMap's content. Names are the fields of each service's ProcessSettings class (what
`python -m wattlane.<module> settings` prints); tests/charts checks every rendered name against them.
Secrets never appear here: a secret setting is a mounted file named by its ..._FILE variable.
(dict "root" $ "component" "csms")
*/}}
{{- define "wattlane.settings" -}}
{{- $root := .root -}}
{{- $c := .component -}}
{{- $def := get (include "wattlane.components" $root | fromYaml) $c -}}
{{- $v := get $root.Values $c -}}
{{- $dir := include "wattlane.secretsDir" $root -}}
{{- $s := dict -}}
{{- $_ := set $s "METRICS_PORT" (toString $def.metricsPort) -}}
{{- $_ := set $s "LOG_LEVEL" $root.Values.logging.level -}}
{{- $_ := set $s "LOG_JSON" (toString $root.Values.logging.json) -}}
{{- $_ := set $s "DRAIN_SECONDS" (toString $root.Values.shutdown.drainSeconds) -}}
{{- $_ := set $s "GRACE_SECONDS" (toString (ternary $v.graceSeconds $root.Values.shutdown.graceSeconds (eq $c "csms"))) -}}
{{- if $root.Values.otlp.endpoint -}}
{{- $_ := set $s "OTLP_ENDPOINT" $root.Values.otlp.endpoint -}}
{{- end -}}
{{- /* Listen on the pod's addresses (the defaults are loopback, for a laptop). */ -}}
{{- $_ := set $s "HOST" "0.0.0.0" -}}
{{- if $def.grpcPort -}}
{{- $_ := set $s (ternary "GRPC_PORT" "PORT" (eq $c "csms")) (toString $def.grpcPort) -}}
{{- end -}}
{{- if $def.database -}}
{{- $_ := set $s "DATABASE_URL" $v.database.url -}}
{{- /* The hook Job migrates before the new pods start; replicas never race on it. */ -}}
{{- $_ := set $s "MIGRATE_ON_START" "false" -}}
{{- end -}}
{{- if $def.temporal -}}
{{- $_ := set $s "TEMPORAL_ADDRESS" $root.Values.temporal.address -}}
{{- $_ := set $s "TEMPORAL_NAMESPACE" $root.Values.temporal.namespace -}}
{{- end -}}
{{- if ne $c "identity" -}}
{{- $_ := set $s "IDENTITY_ADDRESS" (include "wattlane.grpcAddress" (dict "root" $root "component" "identity")) -}}
{{- $_ := set $s "CLIENT_ID" $c -}}
{{- $_ := set $s "CLIENT_SECRET_FILE" (printf "%s/client-secret" $dir) -}}
{{- end -}}
{{- if eq $c "identity" -}}
{{- $_ := set $s "SERVICE_ACCOUNTS_FILE" (printf "%s/service-accounts.json" $dir) -}}
{{- $_ := set $s "OPERATOR_NAME" $v.operatorName -}}
{{- if $v.signingKey.existingSecret -}}
{{- $_ := set $s "SIGNING_KEY_FILE" (printf "%s/signing-key.pem" $dir) -}}
{{- end -}}
{{- if $v.bootstrapAdmin.email -}}
{{- $_ := set $s "BOOTSTRAP_ADMIN_EMAIL" $v.bootstrapAdmin.email -}}
{{- end -}}
{{- if $v.bootstrapAdmin.passwordSecret.name -}}
{{- $_ := set $s "BOOTSTRAP_ADMIN_PASSWORD_FILE" (printf "%s/bootstrap-admin-password" $dir) -}}
{{- end -}}
{{- end -}}
{{- /* Billing's internal API: tariffs for assets, prices for the CSMS, records for the worker. */ -}}
{{- if has $c (list "assets" "csms" "worker") -}}
{{- $_ := set $s "BILLING_ADDRESS" (include "wattlane.grpcAddress" (dict "root" $root "component" "billing")) -}}
{{- end -}}
{{- if eq $c "assets" -}}
{{- $_ := set $s "CSMS_ADDRESS" (include "wattlane.grpcAddress" (dict "root" $root "component" "csms")) -}}
{{- end -}}
{{- if eq $c "billing" -}}
{{- $_ := set $s "CSMS_ADDRESS" (include "wattlane.grpcAddress" (dict "root" $root "component" "csms")) -}}
{{- end -}}
{{- if eq $c "csms" -}}
{{- $_ := set $s "PORT" "9000" -}}
{{- $_ := set $s "ASSETS_ADDRESS" (include "wattlane.grpcAddress" (dict "root" $root "component" "assets")) -}}
{{- $_ := set $s "SECURITY_PROFILE" (toString $v.securityProfile) -}}
{{- $_ := set $s "HEARTBEAT_INTERVAL" (toString $v.heartbeatInterval) -}}
{{- $_ := set $s "CLOSE_SPREAD_SECONDS" (toString $v.closeSpreadSeconds) -}}
{{- if ge (int $v.securityProfile) 2 -}}
{{- $_ := set $s "TLS_CERT" (printf "%s/tls/tls.crt" $dir) -}}
{{- $_ := set $s "TLS_KEY" (printf "%s/tls/tls.key" $dir) -}}
{{- end -}}
{{- if eq (int $v.securityProfile) 3 -}}
{{- $_ := set $s "TLS_CLIENT_CA" (printf "%s/tls/client-ca.crt" $dir) -}}
{{- end -}}
{{- end -}}
{{- if eq $c "worker" -}}
{{- $_ := set $s "CSMS_ADDRESS" (include "wattlane.grpcAddress" (dict "root" $root "component" "csms")) -}}
{{- if $v.smtp.host -}}
{{- $_ := set $s "SMTP_HOST" $v.smtp.host -}}
{{- end -}}
{{- $_ := set $s "SMTP_PORT" (toString $v.smtp.port) -}}
{{- if $v.appUrl -}}
{{- $_ := set $s "APP_URL" $v.appUrl -}}
{{- end -}}
{{- end -}}
{{- range $name, $value := $v.settings -}}
{{- if regexMatch "(?i)(secret|password|stations)$" $name -}}
{{- fail (printf "%s.settings.%s: a secret setting cannot be given here, it would land in a ConfigMap; give it as a Secret (see the chart's README)" $c $name) -}}
{{- end -}}
{{- $_ := set $s (upper $name) (toString $value) -}}
{{- end -}}
{{- toYaml $s -}}
{{- end -}}

{{/*
The secret files of one component: projected volume sources. Every secret setting is read from
its file (WATTLANE_<SVC>_<NAME>_FILE), never from an environment variable.
*/}}
{{- define "wattlane.secretSources" -}}
{{- $root := .root -}}
{{- $c := .component -}}
{{- $v := get $root.Values $c -}}
{{- if eq $c "identity" }}
- secret:
    name: {{ include "wattlane.serviceAccountsSecret" $root }}
    items:
      - key: service-accounts.json
        path: service-accounts.json
{{- if $v.signingKey.existingSecret }}
- secret:
    name: {{ $v.signingKey.existingSecret }}
    items:
      - key: {{ $v.signingKey.key }}
        path: signing-key.pem
{{- end }}
{{- if $v.bootstrapAdmin.passwordSecret.name }}
- secret:
    name: {{ $v.bootstrapAdmin.passwordSecret.name }}
    items:
      - key: {{ $v.bootstrapAdmin.passwordSecret.key }}
        path: bootstrap-admin-password
{{- end }}
{{- else }}
- secret:
    name: {{ include "wattlane.serviceAccountsSecret" $root }}
    items:
      - key: {{ $c }}
        path: client-secret
{{- end }}
{{- if and (eq $c "csms") (ge (int $v.securityProfile) 2) }}
- secret:
    name: {{ $v.tls.secretName }}
    items:
      - key: tls.crt
        path: tls/tls.crt
      - key: tls.key
        path: tls/tls.key
{{- if eq (int $v.securityProfile) 3 }}
- secret:
    name: {{ $v.tls.clientCA.secretName }}
    items:
      - key: {{ $v.tls.clientCA.key }}
        path: tls/client-ca.crt
{{- end }}
{{- end }}
{{- end -}}

{{/* The database password as PGPASSWORD (libpq and asyncpg read it when the URL has none). */}}
{{- define "wattlane.databasePasswordEnv" -}}
{{- $v := get .root.Values .component -}}
{{- if and $v.database $v.database.passwordSecret.name }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $v.database.passwordSecret.name }}
      key: {{ $v.database.passwordSecret.key }}
{{- end }}
{{- end -}}
