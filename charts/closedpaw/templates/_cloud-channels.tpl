{{/*
Cloud models and approval channels: the checks the schema cannot express (each names the value to fix, as
the operator would at start-up), the operator's environment for them, and the ports they reach out to.
*/}}

{{/* Either feature reaches out of the cluster and keeps secrets in the vault. */}}
{{- define "closedpaw.cloudOrChannels" -}}
{{- if or .Values.cloud.models .Values.channels.enabled }}true{{ end -}}
{{- end -}}

{{/* A number as plain decimal: Helm holds YAML numbers as float64, which print as 1e-05 or 1e+06. */}}
{{- define "closedpaw.decimal" -}}
{{- regexReplaceAll "\\.?0+$" (printf "%.6f" (float64 .)) "" -}}
{{- end -}}

{{/* The port an https URL names (443 when it names none). */}}
{{- define "closedpaw.httpsPort" -}}
{{- $hostPort := splitList ":" (urlParse .).host -}}
{{- if gt (len $hostPort) 1 }}{{ last $hostPort }}{{ else }}443{{ end -}}
{{- end -}}

{{- define "closedpaw.checkCloud" -}}
{{- $c := .Values.cloud -}}
{{- if $c.models -}}
{{- if not .Values.audit.enabled -}}
{{- fail "cloud.models: cloud models need audit.enabled=true (their API keys are sealed with the audit keys)" -}}
{{- end -}}
{{- $providers := list "openai" "anthropic" -}}
{{- $custom := list -}}
{{- range $c.providers -}}
{{- if has .name $custom }}{{ fail (printf "cloud.providers: %s is listed twice" .name) }}{{ end -}}
{{- $custom = append $custom .name -}}
{{- end -}}
{{- $providers = concat $providers $custom -}}
{{- range $model := $c.models -}}
{{- $provider := first (splitList "/" $model) -}}
{{- if not (has $provider $providers) -}}
{{- fail (printf "cloud.models: %s names provider %s, which is neither openai, anthropic nor in cloud.providers" $model $provider) -}}
{{- end -}}
{{- if not (hasKey $c.prices $model) -}}
{{- fail (printf "cloud.prices: %s has no price: add %s: { input: <USD per 1M tokens>, output: <USD per 1M tokens> }" $model $model) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "closedpaw.checkChannels" -}}
{{- $ch := .Values.channels -}}
{{- if $ch.enabled -}}
{{- if not .Values.audit.enabled -}}
{{- fail "channels.enabled: channels need audit.enabled=true (their secrets and pairings are sealed with the audit keys)" -}}
{{- end -}}
{{- if and .Values.ui.enabled (eq (int $ch.port) (int .Values.ui.port)) -}}
{{- fail (printf "channels.port: %d is the approval UI's port (ui.port): the webhook listener needs its own" (int $ch.port)) -}}
{{- end -}}
{{- if eq (int $ch.port) (int .Values.gateway.port) -}}
{{- fail (printf "channels.port: %d is the gateway's port (gateway.port)" (int $ch.port)) -}}
{{- end -}}
{{- if eq (int $ch.port) 8080 -}}
{{- fail "channels.port: 8080 is the operator's metrics port" -}}
{{- end -}}
{{- range $ch.intake.users -}}
{{- if not (has . $ch.users) -}}
{{- fail (printf "channels.intake.users: %s is not in channels.users (only paired users can create tasks from chat)" .) -}}
{{- end -}}
{{- end -}}
{{- if and $ch.intake.namespace (not $ch.intake.users) -}}
{{- fail "channels.intake.users: list who may create tasks from chat (channels.intake.namespace is set)" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The operator's CLOSEDPAW_CLOUD_* variables (operator/src/gateway/providers/catalog.ts). */}}
{{- define "closedpaw.cloudEnv" -}}
{{- $c := .Values.cloud -}}
{{- $prices := list -}}
{{- range $model := $c.models -}}
{{- $price := index $c.prices $model -}}
{{- $prices = append $prices (printf "%s=%s/%s" $model (include "closedpaw.decimal" $price.input) (include "closedpaw.decimal" $price.output)) -}}
{{- end -}}
{{- $providers := list -}}
{{- range $c.providers -}}
{{- $providers = append $providers (printf "%s=%s,%s,%s" .name .kind .baseUrl .vaultKey) -}}
{{- end -}}
- { name: CLOSEDPAW_CLOUD_MODELS, value: {{ join "," $c.models | quote }} }
- { name: CLOSEDPAW_CLOUD_PRICES, value: {{ join "," $prices | quote }} }
{{- with $providers }}
- { name: CLOSEDPAW_CLOUD_PROVIDERS, value: {{ join ";" . | quote }} }
{{- end }}
- { name: CLOSEDPAW_CLOUD_MAX_COST_USD, value: {{ include "closedpaw.decimal" $c.maxCostUsd | quote }} }
- { name: CLOSEDPAW_CLOUD_MAX_OUTPUT_TOKENS, value: {{ int64 $c.maxOutputTokens | quote }} }
- { name: CLOSEDPAW_CLOUD_RISK, value: {{ $c.risk | quote }} }
{{- end -}}

{{/* The operator's CLOSEDPAW_CHANNEL* variables (operator/src/channels/settings.ts), for the enabled platforms only. */}}
{{- define "closedpaw.channelsEnv" -}}
{{- $ch := .Values.channels -}}
- { name: CLOSEDPAW_CHANNELS, value: {{ join "," $ch.enabled | quote }} }
- { name: CLOSEDPAW_CHANNELS_ADDR, value: "0.0.0.0:{{ $ch.port }}" }
{{- with $ch.publicUrl }}
- { name: CLOSEDPAW_CHANNELS_PUBLIC_URL, value: {{ . | quote }} }
{{- end }}
- { name: CLOSEDPAW_CHANNEL_USERS, value: {{ join "," $ch.users | quote }} }
{{- if has "telegram" $ch.enabled }}
- { name: CLOSEDPAW_TELEGRAM_CHAT_ID, value: {{ $ch.telegram.chatId | quote }} }
- { name: CLOSEDPAW_TELEGRAM_API_URL, value: {{ $ch.telegram.apiUrl | quote }} }
{{- end }}
{{- if has "discord" $ch.enabled }}
- { name: CLOSEDPAW_DISCORD_CHANNEL_ID, value: {{ $ch.discord.channelId | quote }} }
- { name: CLOSEDPAW_DISCORD_PUBLIC_KEY, value: {{ $ch.discord.publicKey | quote }} }
- { name: CLOSEDPAW_DISCORD_API_URL, value: {{ $ch.discord.apiUrl | quote }} }
{{- end }}
{{- if has "slack" $ch.enabled }}
- { name: CLOSEDPAW_SLACK_CHANNEL_ID, value: {{ $ch.slack.channelId | quote }} }
- { name: CLOSEDPAW_SLACK_API_URL, value: {{ $ch.slack.apiUrl | quote }} }
{{- end }}
{{- with $ch.intake.namespace }}
- { name: CLOSEDPAW_CHANNEL_INTAKE_NAMESPACE, value: {{ . | quote }} }
- { name: CLOSEDPAW_CHANNEL_INTAKE_USERS, value: {{ join "," $ch.intake.users | quote }} }
- { name: CLOSEDPAW_CHANNEL_INTAKE_MODEL, value: {{ $ch.intake.model | quote }} }
{{- end }}
{{- end -}}

{{/* TCP ports the operator connects to outside the cluster: 443, plus any an enabled provider or platform URL names. */}}
{{- define "closedpaw.outboundPorts" -}}
{{- $ports := list "443" -}}
{{- if .Values.cloud.models -}}
{{- range .Values.cloud.providers }}{{ $ports = append $ports (include "closedpaw.httpsPort" .baseUrl) }}{{ end -}}
{{- end -}}
{{- range $platform := .Values.channels.enabled -}}
{{- $ports = append $ports (include "closedpaw.httpsPort" (index $.Values.channels $platform).apiUrl) -}}
{{- end -}}
{{- uniq $ports | join "," -}}
{{- end -}}

{{/* The vault entries the enabled features read: each cloud model's provider key, each platform's secrets. */}}
{{- define "closedpaw.vaultEntries" -}}
{{- $entries := list -}}
{{- $keys := dict "openai" "openai" "anthropic" "anthropic" -}}
{{- range .Values.cloud.providers }}{{ $_ := set $keys .name .vaultKey }}{{ end -}}
{{- range .Values.cloud.models }}{{ $entries = append $entries (get $keys (first (splitList "/" .))) }}{{ end -}}
{{- $platformEntries := dict "telegram" (list "telegram-bot-token" "telegram-webhook-secret") "discord" (list "discord-bot-token") "slack" (list "slack-bot-token" "slack-signing-secret") -}}
{{- range .Values.channels.enabled }}{{ $entries = concat $entries (get $platformEntries .) }}{{ end -}}
{{- uniq $entries | join " " -}}
{{- end -}}
