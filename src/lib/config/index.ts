/**
 * The daemon's YAML config file: schema, defaults, validation with line
 * numbers, flag merging and the example template. Import only this file.
 */
export { formatDuration, parseDuration } from "./duration.ts";
export { formatHostPort, type HostPort, parseHostPort } from "./hostport.ts";
export {
  DEMO_ROLES,
  enabledRoles,
  type LoadConfigOptions,
  loadConfig,
  parseLabels,
  parseRoles,
  type StartFlags,
} from "./load.ts";
export {
  ConfigError,
  type ConfigIssue,
  type ConfigPath,
  type ConfigSource,
  formatIssue,
  parseConfig,
  readConfigYaml,
  validateConfig,
} from "./parse.ts";
export {
  type AppConfig,
  type AppServiceConfig,
  type AuthServiceConfig,
  type CommandLabelConfig,
  configSchema,
  type DatabaseConfig,
  type DbServiceConfig,
  type DesktopServiceConfig,
  defaultClusterName,
  type JumpgateConfig,
  type JumpgateConfigInput,
  type KubernetesServiceConfig,
  type ProxyServiceConfig,
  SERVICE_SECTIONS,
  type ServiceRole,
  type ServiceSection,
  type SshServiceConfig,
  type StaticToken,
  TOKEN_ROLES,
} from "./schema.ts";
export { configureTemplate, type TemplateOptions } from "./template.ts";
