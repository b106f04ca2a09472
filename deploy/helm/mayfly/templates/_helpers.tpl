{{/* Chart name, truncated to the DNS label limit. */}}
{{- define "mayfly.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name; also the StatefulSet's name and its pods' prefix. */}}
{{- define "mayfly.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "mayfly.headless" -}}
{{- printf "%s-headless" (include "mayfly.fullname" .) -}}
{{- end -}}

{{- define "mayfly.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mayfly.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mayfly.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "mayfly.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mayfly
{{- end -}}

{{- define "mayfly.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mayfly.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* image reference: repository[:tag][@digest] */}}
{{- define "mayfly.imageRef" -}}
{{- $img := index . 0 -}}
{{- $defaultTag := index . 1 -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default $defaultTag $img.tag | toString) -}}
{{- end -}}
{{- end -}}

{{- define "mayfly.secretName" -}}
{{- default (include "mayfly.fullname" .) .Values.auth.existingSecret -}}
{{- end -}}

{{/* Pod 0's stable DNS name: the initial primary. */}}
{{- define "mayfly.primaryHost" -}}
{{- printf "%s-0.%s.%s.svc.%s" (include "mayfly.fullname" .) (include "mayfly.headless" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{- define "mayfly.validate" -}}
{{- if and .Values.auth.enabled (not .Values.auth.existingSecret) (not .Values.auth.password) -}}
{{- fail "auth.enabled needs auth.password or auth.existingSecret" -}}
{{- end -}}
{{- if and .Values.tls.enabled (not .Values.tls.existingSecret) -}}
{{- fail "tls.enabled needs tls.existingSecret (a Secret with the certificate and key)" -}}
{{- end -}}
{{- if and .Values.sentinel.enabled (lt (int .Values.replicaCount) 2) -}}
{{- fail "sentinel.enabled needs replicaCount >= 2 (a primary and at least one replica)" -}}
{{- end -}}
{{- if and .Values.sentinel.enabled (gt (int .Values.sentinel.quorum) (int .Values.replicaCount)) -}}
{{- fail "sentinel.quorum cannot exceed replicaCount (one Sentinel runs in each pod)" -}}
{{- end -}}
{{- end -}}

{{/* Every pod's Sentinel, "host:port" one a line (find-primary.sh skips its own). */}}
{{- define "mayfly.sentinelAddrs" -}}
{{- $addrs := list -}}
{{- range $i := until (int .Values.replicaCount) -}}
{{- $addrs = append $addrs (printf "%s-%d.%s.%s.svc.%s:%d" (include "mayfly.fullname" $) $i (include "mayfly.headless" $) $.Release.Namespace $.Values.clusterDomain (int $.Values.sentinel.port)) -}}
{{- end -}}
{{- join "\n" $addrs -}}
{{- end -}}
