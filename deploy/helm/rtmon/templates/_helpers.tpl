{{/* Names */}}
{{- define "rtmon.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rtmon.fullname" -}}
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

{{/* rtmon.component: "<fullname>-<component>" (call with dict "root" $ "c" "arp") */}}
{{- define "rtmon.component" -}}
{{- printf "%s-%s" (include "rtmon.fullname" .root | trunc 50 | trimSuffix "-") .c -}}
{{- end -}}

{{- define "rtmon.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rtmon.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .c }}
{{- end -}}

{{- define "rtmon.labels" -}}
{{ include "rtmon.selectorLabels" . }}
app.kubernetes.io/part-of: rtmon
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* rtmon.image: (dict "image" .Values.image "root" $) */}}
{{- define "rtmon.image" -}}
{{- $i := .image -}}
{{- $ref := printf "%s/%s" $i.registry $i.repository -}}
{{- if not $i.registry }}{{ $ref = $i.repository }}{{ end -}}
{{- if $i.digest -}}
{{- printf "%s@%s" $ref $i.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (default .root.Chart.AppVersion $i.tag) -}}
{{- end -}}
{{- end -}}

{{/* The flows of .Values.flow as a list of flow maps (one file: one flow or `flows:`). */}}
{{- define "rtmon.flows" -}}
{{- $out := list -}}
{{- if .Values.flow -}}
{{- $doc := fromYaml .Values.flow -}}
{{- if hasKey $doc "Error" -}}
{{- fail (printf "flow: not YAML: %s" $doc.Error) -}}
{{- end -}}
{{- if hasKey $doc "flows" -}}
{{- $out = $doc.flows -}}
{{- else if hasKey $doc "flow" -}}
{{- $out = list $doc -}}
{{- else -}}
{{- fail "flow: neither a flow (`flow:` + `path:`) nor `flows:` (see config_flow/README.md)" -}}
{{- end -}}
{{- end -}}
{{- toJson (dict "flows" $out) -}}
{{- end -}}

{{/* Host names of the flow (sorted, unique), as JSON {"hosts": [...]}. */}}
{{- define "rtmon.flowHosts" -}}
{{- $hosts := list -}}
{{- range (include "rtmon.flows" . | fromJson).flows -}}
{{- range .path -}}
{{- if hasKey . "host" -}}{{- $hosts = append $hosts (toString .host) -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson (dict "hosts" ($hosts | uniq | sortAlpha)) -}}
{{- end -}}

{{/* Switch scrape targets: the flow's switches + snmp.targets, unique by target+auth. */}}
{{- define "rtmon.snmpTargets" -}}
{{- $seen := dict -}}
{{- $out := list -}}
{{- range (include "rtmon.flows" . | fromJson).flows -}}
{{- range .path -}}
{{- if hasKey . "switch" -}}
{{- $t := dict "name" (toString .switch) "target" (toString .target) "auth" (toString (default "" .auth)) -}}
{{- $k := printf "%s|%s" $t.target $t.auth -}}
{{- if not (hasKey $seen $k) -}}{{- $_ := set $seen $k true -}}{{- $out = append $out $t -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range .Values.snmp.targets -}}
{{- $t := dict "name" (default .target .name) "target" .target "auth" (default "" .auth) "modules" (default list .modules) -}}
{{- $k := printf "%s|%s" $t.target $t.auth -}}
{{- if not (hasKey $seen $k) -}}{{- $_ := set $seen $k true -}}{{- $out = append $out $t -}}{{- end -}}
{{- end -}}
{{- toJson (dict "targets" $out) -}}
{{- end -}}

{{/*
rtmon.assertReadable: fails unless a Secret/ConfigMap file mounted with `mode` is readable
by the container. The kubelet writes such files owned by root and, with fsGroup, group
fsGroup: a non-root user reads them through the group bit (fsGroup set) or the other bit.
(dict "what" "snmp.auth" "pod" podSecurityContext "ctr" securityContext "mode" int)
*/}}
{{- define "rtmon.assertReadable" -}}
{{- $pod := default dict .pod -}}
{{- $ctr := default dict .ctr -}}
{{- $uid := 65534 -}}
{{- if hasKey $pod "runAsUser" }}{{ $uid = int $pod.runAsUser }}{{ end -}}
{{- if hasKey $ctr "runAsUser" }}{{ $uid = int $ctr.runAsUser }}{{ end -}}
{{- $gid := 65534 -}}
{{- if hasKey $pod "runAsGroup" }}{{ $gid = int $pod.runAsGroup }}{{ end -}}
{{- if hasKey $ctr "runAsGroup" }}{{ $gid = int $ctr.runAsGroup }}{{ end -}}
{{- $mode := int .mode -}}
{{- $other := mod $mode 8 -}}
{{- $group := mod (div $mode 8) 8 -}}
{{- $fsGroup := hasKey $pod "fsGroup" | ternary $pod.fsGroup nil -}}
{{- $ok := or (eq $uid 0) (ge $other 4) -}}
{{- if and (ge $group 4) (or (not (kindIs "invalid" $fsGroup)) (eq $gid 0)) }}{{ $ok = true }}{{ end -}}
{{- if not $ok -}}
{{- fail (printf "%s: the mounted file (mode %#o, owner root, group %v) is unreadable for runAsUser %d: set defaultMode 0440 with podSecurityContext.fsGroup, or run as root" .what $mode (default "root" $fsGroup) $uid) -}}
{{- end -}}
{{- end -}}

{{/* Pod scheduling + common pod fields for a component values block `v`. */}}
{{- define "rtmon.podScheduling" -}}
{{- with .v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
