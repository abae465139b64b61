/** A configuration that cannot be used; its message names every field at fault and why. Synth stops. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
