{{/*
What differs between the five processes; everything else is one template per kind of resource.
module: `python -m wattlane.<module>`; prefix: their WATTLANE_<PREFIX>_* settings; grpcPort 0 = no
gRPC server (the worker only polls Temporal); metricsPort: the side port (/metrics, /healthz,
/readyz); calls: the components whose gRPC it calls (NetworkPolicy egress and the addresses it is
given); temporal/smtp: external egress it needs.
*/}}
{{- define "wattlane.components" -}}
identity:
  module: identity
  prefix: IDENTITY
  grpcPort: 50051
  metricsPort: 9151
  database: true
  temporal: true
  calls: []
assets:
  module: assets
  prefix: ASSETS
  grpcPort: 50052
  metricsPort: 9152
  database: true
  temporal: false
  calls: [identity, csms, billing]
billing:
  module: billing
  prefix: BILLING
  grpcPort: 50053
  metricsPort: 9154
  database: true
  temporal: false
  calls: [identity, csms, assets]
csms:
  module: csms
  prefix: CSMS
  grpcPort: 50061
  metricsPort: 9161
  database: true
  temporal: true
  calls: [identity, assets, billing, csms]
worker:
  module: workflows
  prefix: WORKER
  grpcPort: 0
  metricsPort: 9153
  database: false
  temporal: true
  calls: [identity, csms, billing, assets]
{{- end -}}

{{- define "wattlane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wattlane.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels every resource of the release carries. */}}
{{- define "wattlane.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "wattlane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: wattlane
{{- end -}}

{{/* Selector of one component's pods: (dict "root" $ "component" "csms"). */}}
{{- define "wattlane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wattlane.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "wattlane.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* In-cluster gRPC address of a component: (dict "root" $ "component" "identity"). */}}
{{- define "wattlane.grpcAddress" -}}
{{- $def := get (include "wattlane.components" .root | fromYaml) .component -}}
{{- printf "%s-%s:%v" (include "wattlane.fullname" .root) .component $def.grpcPort -}}
{{- end -}}

{{/* The Secret with the internal service accounts (chart-made or existing). */}}
{{- define "wattlane.serviceAccountsSecret" -}}
{{- default (printf "%s-service-accounts" (include "wattlane.fullname" .)) .Values.serviceAccounts.existingSecret -}}
{{- end -}}

{{/* Where secrets are mounted as files (settings read them through WATTLANE_<SVC>_<NAME>_FILE). */}}
{{- define "wattlane.secretsDir" -}}/var/run/secrets/wattlane{{- end -}}

{{/* Container security context of every container: non-root, read-only, nothing extra. */}}
{{- define "wattlane.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "wattlane.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podSecurityContext.runAsUser }}
runAsGroup: {{ .Values.podSecurityContext.runAsGroup }}
fsGroup: {{ .Values.podSecurityContext.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
checkov skips, each with its reason (checkov reads `checkov.io/skipN: CHECK=reason` annotations on
the resource), rendered only where the finding applies: (dict "root" $ "component" "csms").
*/}}
{{- define "wattlane.checkovSkips" -}}
{{- $v := get .root.Values .component -}}
{{- if and $v $v.database $v.database.passwordSecret.name }}
checkov.io/skip1: "CKV_K8S_35=The database password reaches the driver as PGPASSWORD from a secretKeyRef (libpq and asyncpg read it only there or in a pgpass file); every other secret is a mounted file"
{{- end }}
{{- if not .root.Values.image.digest }}
checkov.io/skip2: "CKV_K8S_43=No image.digest given: a development install runs by tag; the production scenario pins the digest"
{{- end }}
{{- end -}}
