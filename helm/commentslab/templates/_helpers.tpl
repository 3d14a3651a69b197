{{/* Names, labels and the blocks every workload shares. */}}

{{- define "commentslab.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "commentslab.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "commentslab.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "commentslab.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The resource name of one component: <fullname>-<component>. */}}
{{- define "commentslab.componentName" -}}
{{- printf "%s-%s" (include "commentslab.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "commentslab.selectorLabels" -}}
app.kubernetes.io/name: {{ include "commentslab.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "commentslab.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: commentslab
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "commentslab.selectorLabels" . }}
{{- end -}}

{{- define "commentslab.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "commentslab.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* <registry>/<repository>:<tag>[@digest] for one of the project's images. */}}
{{- define "commentslab.image" -}}
{{- $tag := default .root.Chart.AppVersion .root.Values.image.tag -}}
{{- $digest := get .root.Values.image.digests .repository -}}
{{- if $digest -}}
{{- printf "%s/%s:%s@%s" .root.Values.image.registry .repository $tag $digest -}}
{{- else -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Pod-level settings every workload shares: service account, security context, no API token. */}}
{{- define "commentslab.podCommon" -}}
serviceAccountName: {{ include "commentslab.serviceAccountName" .root }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Scheduling: the component's own, or the GPU pool's when gpu is on. */}}
{{- define "commentslab.scheduling" -}}
{{- $nodeSelector := .values.nodeSelector | default dict -}}
{{- $tolerations := .values.tolerations | default list -}}
{{- if .gpu -}}
{{- $nodeSelector = merge (deepCopy $nodeSelector) (.root.Values.gpu.nodeSelector | default dict) -}}
{{- $tolerations = concat $tolerations (.root.Values.gpu.tolerations | default list) -}}
{{- end -}}
{{- with $nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Resources, with the GPU added to requests and limits when gpu is on. */}}
{{- define "commentslab.resources" -}}
{{- $resources := deepCopy .values.resources -}}
{{- if .gpu -}}
{{- $_ := set $resources.limits .root.Values.gpu.resourceName (toString .count) -}}
{{- $_ := set $resources.requests .root.Values.gpu.resourceName (toString .count) -}}
{{- end -}}
resources:
  {{- toYaml $resources | nindent 2 }}
{{- end -}}

{{/* Labels that put a pod under Azure workload identity. */}}
{{- define "commentslab.podLabels" -}}
{{- if .Values.azure.workloadIdentity.enabled }}
azure.workload.identity/use: "true"
{{- end }}
{{- end -}}

{{/* Environment for Azure Blob Storage access: the account URL, and the connection string from the
     existing Secret when one is named (never from values). */}}
{{- define "commentslab.azureEnv" -}}
{{- if .Values.azure.storageAccountUrl }}
- name: AZURE_STORAGE_ACCOUNT_URL
  value: {{ .Values.azure.storageAccountUrl | quote }}
{{- end }}
{{- if .Values.azure.existingSecret }}
- name: AZURE_STORAGE_CONNECTION_STRING
  valueFrom:
    secretKeyRef:
      name: {{ .Values.azure.existingSecret }}
      key: {{ .Values.azure.existingSecretKey }}
{{- end }}
{{- end -}}

{{/* checkov skip annotations of a workload, each rendered only while its cause is there:
     - CKV_K8S_35 (secrets as files): only with azure.existingSecret, because the artifact store reads
       the connection string from the environment (services/common/artifacts.py); a file would not
       reach it. With workload identity there is no secret at all.
     - CKV_K8S_43 (image digest): only while image.digests has no digest for the image; the images are
       this project's own, built per release and referenced by their version tag until you pin them. */}}
{{- define "commentslab.workloadAnnotations" -}}
{{- if and .azure .root.Values.azure.existingSecret }}
checkov.io/skip1: CKV_K8S_35=The artifact store reads AZURE_STORAGE_CONNECTION_STRING from the environment; the value comes from an existing Secret, never from values
{{- end }}
{{- if not .digest }}
checkov.io/skip2: CKV_K8S_43=Image referenced by its release tag; set a digest (image.digests or postgresql.image.digest) to pin it by content
{{- end }}
{{- end -}}

{{/* The digest configured for one of the project's images ("" when none). */}}
{{- define "commentslab.imageDigest" -}}
{{- get .root.Values.image.digests .repository -}}
{{- end -}}

{{/* Volumes and mounts every workload has: /tmp scratch. */}}
{{- define "commentslab.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmp.sizeLimit }}
{{- end -}}

{{- define "commentslab.workspaceClaim" -}}
{{- default (printf "%s-workspace" (include "commentslab.fullname" .)) .Values.workspace.existingClaim -}}
{{- end -}}

{{/* PostgreSQL connection facts for MLflow and the gateway, deployed or external. */}}
{{- define "commentslab.postgresHost" -}}
{{- if .Values.postgresql.enabled -}}
{{- include "commentslab.componentName" (dict "root" . "component" .Values.postgresql.name) -}}
{{- else -}}
{{- required "postgresql.external.host is required when postgresql.enabled is false" .Values.postgresql.external.host -}}
{{- end -}}
{{- end -}}

{{- define "commentslab.postgresPort" -}}
{{- if .Values.postgresql.enabled -}}{{ .Values.postgresql.port }}{{- else -}}{{ .Values.postgresql.external.port }}{{- end -}}
{{- end -}}

{{- define "commentslab.postgresUser" -}}
{{- if .Values.postgresql.enabled -}}{{ .Values.postgresql.user }}{{- else -}}{{ .Values.postgresql.external.user }}{{- end -}}
{{- end -}}

{{- define "commentslab.postgresSecret" -}}
{{- if .Values.postgresql.enabled -}}
{{- default (printf "%s-postgresql" (include "commentslab.fullname" .)) .Values.postgresql.existingSecret -}}
{{- else -}}
{{- required "postgresql.external.existingSecret is required when postgresql.enabled is false" .Values.postgresql.external.existingSecret -}}
{{- end -}}
{{- end -}}

{{- define "commentslab.postgresSecretKey" -}}
{{- if .Values.postgresql.enabled -}}{{ .Values.postgresql.existingSecretPasswordKey }}{{- else -}}{{ .Values.postgresql.external.existingSecretPasswordKey }}{{- end -}}
{{- end -}}

{{- define "commentslab.postgresSslmode" -}}
{{- if .Values.postgresql.enabled -}}prefer{{- else -}}{{ .Values.postgresql.external.sslmode }}{{- end -}}
{{- end -}}

{{/* SQLAlchemy URL of the votes database; the password comes from PGPASSWORD (read from the Secret file). */}}
{{- define "commentslab.votesUrl" -}}
{{- printf "postgresql://%s@%s:%s/%s?sslmode=%s" (include "commentslab.postgresUser" .) (include "commentslab.postgresHost" .) (include "commentslab.postgresPort" .) .Values.postgresql.votesDatabase (include "commentslab.postgresSslmode" .) -}}
{{- end -}}

{{/* The Secret volume holding the PostgreSQL password as the file `password`. */}}
{{- define "commentslab.postgresPasswordVolume" -}}
- name: postgresql-password
  secret:
    secretName: {{ include "commentslab.postgresSecret" . }}
    defaultMode: 0440
    items:
      - key: {{ include "commentslab.postgresSecretKey" . }}
        path: password
{{- end -}}

{{/* The Secret holding the maintainer credential and the pseudonym key (when not from Key Vault). */}}
{{- define "commentslab.deploymentSecret" -}}
{{- default (printf "%s-secrets" (include "commentslab.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* One consumer's deployment secret as the file /var/run/secrets/commentslab/<file>: from the Secret, or
     from Key Vault through the consumer's SecretProviderClass. dict: root, consumer, key, file. */}}
{{- define "commentslab.deploymentSecretVolume" -}}
- name: deployment-secrets
{{- if .root.Values.secrets.keyVault.enabled }}
  csi:
    driver: secrets-store.csi.k8s.io
    readOnly: true
    volumeAttributes:
      secretProviderClass: {{ include "commentslab.fullname" .root }}-{{ .consumer }}-secrets
{{- else }}
  secret:
    secretName: {{ include "commentslab.deploymentSecret" .root }}
    defaultMode: 0440
    items:
      - key: {{ .key }}
        path: {{ .file }}
{{- end }}
{{- end -}}
