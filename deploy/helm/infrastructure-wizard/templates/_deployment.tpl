{{- define "wizard.deployment" -}}
{{- $role := .role -}}
{{- $replicas := .replicas -}}
{{- $resources := .resources -}}
{{- $autoscaled := .autoscaled -}}
{{- with .root -}}
{{- $root := . -}}
{{- $socket := include "wizard.socketMode" . -}}
{{- $secret := include "wizard.secretName" . -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "wizard.fullname" . }}{{ if ne $role "all" }}-{{ $role }}{{ end }}
  labels:
    {{- include "wizard.labels" . | nindent 4 }}
    {{- if ne $role "all" }}
    app.kubernetes.io/component: {{ $role }}
    {{- end }}
spec:
  {{- if not $autoscaled }}
  replicas: {{ $replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    {{- toYaml .Values.strategy | nindent 4 }}
  selector:
    matchLabels:
      {{- include "wizard.selectorLabels" . | nindent 6 }}
      {{- if ne $role "all" }}
      app.kubernetes.io/component: {{ $role }}
      {{- end }}
  template:
    metadata:
      labels:
        {{- include "wizard.selectorLabels" . | nindent 8 }}
        {{- if ne $role "all" }}
        app.kubernetes.io/component: {{ $role }}
        {{- end }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- if include "wizard.hasFiles" . }}
        checksum/files: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
        {{- end }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      automountServiceAccountToken: false
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml .Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      containers:
        - name: wizard
          image: {{ include "wizard.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          command: ["wizard"]
          args:
            - serve
            - --port
            - {{ .Values.service.port | quote }}
            - --drain-s
            - {{ .Values.drainSeconds | quote }}
            {{- if ne $role "all" }}
            - --role
            - {{ $role }}
            {{- end }}
            {{- if and $socket (ne $role "worker") }}
            - --socket
            {{- end }}
          ports:
            - name: http
              containerPort: {{ .Values.service.port }}
              protocol: TCP
          env:
            - name: SLACK_BOT_TOKEN
              valueFrom:
                secretKeyRef:
                  name: {{ $secret }}
                  key: SLACK_BOT_TOKEN
            {{- if $socket }}
            - name: SLACK_APP_TOKEN
              valueFrom:
                secretKeyRef:
                  name: {{ $secret }}
                  key: SLACK_APP_TOKEN
            {{- else }}
            - name: SLACK_SIGNING_SECRET
              valueFrom:
                secretKeyRef:
                  name: {{ $secret }}
                  key: SLACK_SIGNING_SECRET
            {{- end }}
            - name: ANTHROPIC_API_KEY
              valueFrom:
                secretKeyRef:
                  name: {{ $secret }}
                  key: ANTHROPIC_API_KEY
                  optional: true
            - name: WIZARD_HOOK_TOKEN
              valueFrom:
                secretKeyRef:
                  name: {{ $secret }}
                  key: WIZARD_HOOK_TOKEN
                  optional: true
            - name: REDIS_URL
              {{- if .Values.redis.url }}
              value: {{ .Values.redis.url | quote }}
              {{- else }}
              valueFrom:
                secretKeyRef:
                  name: {{ $secret }}
                  key: REDIS_URL
              {{- end }}
            - name: WIZARD_DATA_DIR
              value: /data
            {{- if .Values.files.catalog }}
            - name: WIZARD_CATALOG_PATH
              value: {{ printf "%s/catalog.yaml" .Values.files.mountPath | quote }}
            {{- end }}
            {{- if .Values.files.freezes }}
            - name: WIZARD_FREEZES_PATH
              value: {{ printf "%s/freezes.yaml" .Values.files.mountPath | quote }}
            {{- end }}
            {{- range $name, $value := .Values.config }}
            {{- if ne (toString $value) "" }}
            - name: {{ $name }}
              value: {{ $value | toString | quote }}
            {{- end }}
            {{- end }}
            {{- with .Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          startupProbe:
            httpGet:
              path: {{ .Values.probes.startup.path }}
              port: http
            periodSeconds: {{ .Values.probes.startup.periodSeconds }}
            failureThreshold: {{ .Values.probes.startup.failureThreshold }}
          livenessProbe:
            httpGet:
              path: {{ .Values.probes.liveness.path }}
              port: http
            periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
            timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
            failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
          readinessProbe:
            httpGet:
              path: {{ .Values.probes.readiness.path }}
              port: http
            periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
            timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
            failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
          {{- if gt (int .Values.preStopSleepSeconds) 0 }}
          lifecycle:
            preStop:
              exec:
                command: ["sleep", {{ .Values.preStopSleepSeconds | quote }}]
          {{- end }}
          resources:
            {{- toYaml $resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: data
              mountPath: /data
            - name: tmp
              mountPath: /tmp
            {{- if include "wizard.hasFiles" . }}
            - name: files
              mountPath: {{ .Values.files.mountPath }}
              readOnly: true
            {{- end }}
      volumes:
        - name: data
          {{- toYaml .Values.dataVolume | nindent 10 }}
        - name: tmp
          emptyDir:
            sizeLimit: 256Mi
        {{- if include "wizard.hasFiles" . }}
        - name: files
          configMap:
            name: {{ include "wizard.fullname" . }}-files
        {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if .Values.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- range .Values.topologySpreadConstraints }}
        - {{- toYaml (merge (deepCopy .) (dict "labelSelector" (dict "matchLabels" (include "wizard.selectorLabels" $root | fromYaml)))) | nindent 10 }}
        {{- end }}
      {{- end }}
{{- end }}
{{- end }}
