import os from "node:os";
import { defaultClusterName } from "./schema.ts";

export interface TemplateOptions {
  nodename?: string;
  clusterName?: string;
  dataDir?: string;
  /** Where people reach the proxy; default "<nodename>:3080". */
  publicAddr?: string;
}

/** A YAML scalar that survives any characters in a value. */
const q = (s: string): string => JSON.stringify(s);

/** The commented example config that `jumpgate configure` prints; it parses as-is. */
export function configureTemplate(opts: TemplateOptions = {}): string {
  const nodename = opts.nodename ?? os.hostname();
  const clusterName = opts.clusterName ?? defaultClusterName(nodename);
  const dataDir = opts.dataDir ?? "/var/lib/jumpgate";
  const publicAddr = opts.publicAddr ?? `${nodename}:3080`;
  return `# Jumpgate configuration (the shape of Teleport's teleport.yaml).
# Start with: jumpgate start --config /etc/jumpgate.yaml
# Flags given to \`jumpgate start\` override what is written here.
version: v3

jumpgate:
  # This host's name in the cluster.
  nodename: ${q(nodename)}
  # Keys, certificates, the SQLite backend and the audit log live here.
  data_dir: ${q(dataDir)}
  # Agents on other hosts join with a token and dial the proxy:
  # join_params: {token_name: "TOKEN", method: token}
  # proxy_server: "proxy.example.com:3080"
  # or, next to the Auth Service, talk to it directly:
  # auth_server: "127.0.0.1:3025"
  log:
    severity: INFO      # DEBUG, INFO, WARN or ERROR
    format: json        # json or text
  # Prometheus /metrics, /healthz and /readyz:
  # diag_addr: "127.0.0.1:3000"

auth_service:
  enabled: yes
  cluster_name: ${q(clusterName)}
  listen_addr: 127.0.0.1:3025
  authentication:
    type: local
    second_factor: otp  # off, otp, webauthn or on
    lockout:
      max_attempts: 5
      lockout_duration: 20m
  storage:
    type: sqlite        # sqlite, postgres (set conn_string) or memory
    # conn_string: "postgres://jumpgate@db.example.com/jumpgate"
    # Audit events: sqlite:// (default, under data_dir), postgres://..., jsonl:///var/log/jumpgate/audit.jsonl
    # audit_events_uri: ["sqlite://", "jsonl:///var/log/jumpgate/audit.jsonl"]
  # Static join tokens ("roles:token"); prefer short-lived ones from \`jctl tokens add\`.
  # tokens: ["node:CHANGE-ME-LONG-RANDOM-TOKEN"]

proxy_service:
  enabled: yes
  # The one public port: web UI, SSH, databases, apps, Kubernetes and reverse tunnels.
  listen_addr: 0.0.0.0:3080
  public_addr: ${q(publicAddr)}
  # Without key pairs the proxy makes a self-signed certificate.
  https_keypairs: []
  # - key_file: /etc/jumpgate/proxy-key.pem
  #   cert_file: /etc/jumpgate/proxy-cert.pem
  # Load balancers that send a PROXY protocol header:
  # trusted_proxy_protocol_addrs: ["10.0.0.0/8"]
  # Web UI sessions end after this long without a request:
  # web_idle_timeout: 30m

ssh_service:
  enabled: yes
  labels:
    env: dev
  # Labels computed by running a command every period:
  commands:
    - name: arch
      command: [uname, -m]
      period: 1h

db_service:
  enabled: no
  databases:
    - name: pg
      protocol: postgres   # postgres or mysql
      uri: 127.0.0.1:5432
      static_labels: {env: dev}

app_service:
  enabled: no
  apps:
    - name: grafana        # lowercase letters, digits and '-': it becomes grafana.<proxy host>
      uri: http://127.0.0.1:3000   # http://, https:// or tcp://HOST:PORT
      labels: {env: dev}
      # public_addr: grafana.example.com
      # insecure_skip_verify: no   # https apps with a self-signed certificate
      # dynamic_labels: [{name: arch, command: [uname, -m], period: 1h}]
      # rewrite:
      #   headers: [{name: X-Grafana-User, value: "{{internal.logins}}"}]
      #   redirect: [localhost]
  # Also serve apps registered with "jctl create -f app.yaml" whose labels match:
  # resources: [{labels: {env: dev}}]
  # One audit event per HTTP request (app.session.request):
  # audit_requests: yes

kubernetes_service:
  enabled: no
  kubeconfig_file: /etc/jumpgate/kubeconfig
  static_labels: {env: dev}
`;
}
