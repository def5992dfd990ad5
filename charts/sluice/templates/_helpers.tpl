{{/*
Named templates shared by the manifests.

The templates of this chart keep to a small subset of Go templates and Sprig, so that the test
(tests/charts/chart_test.py) can render them with its own renderer when no Helm binary is at
hand: actions with {{- -}} trimming, comments, variables, if/else if/else, with, range,
define/include, and the functions default, quote, toYaml, nindent, indent, printf (%s %v),
trunc, trimSuffix, contains, replace, sha256sum, eq, ne, not, and, or, required, fail,
tpl and .Files.Get. Anything beyond that needs the renderer taught first.
*/}}

{{/* The chart name, or nameOverride; Kubernetes names stop at 63 characters. */}}
{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Prefix of every resource name: fullnameOverride, else the release name when it already says
"sluice" (release "sluice" gives "sluice", not "sluice-sluice"), else <release>-<name>.
*/}}
{{- define "sluice.fullname" -}}
{{- $name := include "sluice.name" . -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels that select the pods: fixed for the life of a release (selectors are immutable). */}}
{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "sluice.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | trunc 63 | trimSuffix "-" }}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The ConfigMap the pods mount: the chart's own, or an existing one. */}}
{{- define "sluice.configMapName" -}}
{{- if .Values.sluice.configMap.create -}}
{{- include "sluice.fullname" . -}}
{{- else -}}
{{- required "sluice.configMap.name is required when sluice.configMap.create is false" .Values.sluice.configMap.name -}}
{{- end -}}
{{- end -}}

{{- define "sluice.configKey" -}}
{{- default "config.alloy" .Values.sluice.configMap.key -}}
{{- end -}}

{{/*
The configuration the chart's ConfigMap holds: sluice.configMap.content through tpl (as the
Alloy chart does, so values can be referenced), else the DaemonSet pipeline that ships with the
chart (config/kubernetes-pods.alloy, a link to the repository's file), taken as it is.
*/}}
{{- define "sluice.configContent" -}}
{{- if .Values.sluice.configMap.content -}}
{{- tpl .Values.sluice.configMap.content . -}}
{{- else -}}
{{- .Files.Get "config/kubernetes-pods.alloy" -}}
{{- end -}}
{{- end -}}

{{- define "sluice.storageHostPath" -}}
{{- if .Values.sluice.storageHostPath -}}
{{- .Values.sluice.storageHostPath -}}
{{- else -}}
{{- printf "/var/lib/sluice/%s_%s" .Release.Namespace (include "sluice.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "sluice.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- if contains ":" .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s@sha256:%s" $repo .Values.image.digest -}}
{{- end -}}
{{- else -}}
{{- printf "%s:%s" $repo (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
clusterEvents: the Deployment's pod labels (a name of their own, so that neither the DaemonSet's
selector nor the Service picks these pods) and its configuration: clusterEvents.config through
tpl, else config/cluster-events.alloy (a link to the repository's file).
*/}}
{{- define "sluice.clusterEventsSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-cluster-events" (include "sluice.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sluice.clusterEventsConfig" -}}
{{- if .Values.clusterEvents.config -}}
{{- tpl .Values.clusterEvents.config . -}}
{{- else -}}
{{- .Files.Get "config/cluster-events.alloy" -}}
{{- end -}}
{{- end -}}
