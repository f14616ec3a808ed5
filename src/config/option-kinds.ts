// The building blocks of the option table: one constructor per kind of value. Each says how the
// raw text is read (parse-value.ts) and, through its type parameter, what TypeScript type the
// value has in Config, so the table alone defines both the accepted input and the typed result.

export type OptionType = 'string' | 'path' | 'port' | 'int' | 'seconds' | 'bool' | 'enum' | 'list' | 'addresses' | 'hostport' | 'hostports';

/** What every option says about itself, whatever its kind. */
export interface OptionCommon {
  /** Environment variable (the deployment contract). */
  env: string;
  /** Command-line flag without the leading dashes. */
  flag: string;
  /** Extra names accepted in the INI `[options]` section (the flag name is always accepted). */
  iniAliases?: readonly string[];
  help: string;
  /**
   * Applied to a running server by SIGHUP (re-read config file); anything else needs a restart.
   * Options without this keep their startup value, and a changed value is logged as ignored.
   */
  live?: boolean;
}

/** A value or a function of the chosen mode (`--port` and `--store` differ by mode). */
export type DefaultValue<T> = T | ((mode: 'proxy' | 'local') => T);

/** One option of kind `type` whose value is a `T`; `D` records whether it has a default. */
export interface OptionDef<T, D extends boolean = boolean> extends OptionCommon {
  readonly type: OptionType;
  /** The allowed values of an enum, or of each comma-separated item of a list. */
  readonly choices?: readonly string[];
  /** Inclusive bounds for numbers. */
  readonly min?: number;
  readonly max?: number;
  readonly default: D extends true ? DefaultValue<T> : undefined;
  /** How --help shows the default when it is computed or not the plain value. */
  readonly defaultText?: string;
  /** Phantom: carries T for the Config type. */
  readonly __value?: T;
}

type Input<T> = OptionCommon & { defaultText?: string; default?: DefaultValue<T> };
type NumberInput = Input<number> & { min?: number; max?: number };

function make<T>(type: OptionType, o: Input<T> & { choices?: readonly string[]; min?: number; max?: number }): OptionDef<T> {
  return { ...o, type, default: o.default } as OptionDef<T>;
}

// Overloads keep "has a default" in the type: Config fields without one are optional.
export function str(o: Input<string> & { default: DefaultValue<string> }): OptionDef<string, true>;
export function str(o: Input<string>): OptionDef<string, false>;
export function str(o: Input<string>): OptionDef<string> { return make('string', o); }

export function path(o: Input<string> & { default: DefaultValue<string> }): OptionDef<string, true>;
export function path(o: Input<string>): OptionDef<string, false>;
export function path(o: Input<string>): OptionDef<string> { return make('path', o); }

export function port(o: NumberInput & { default: DefaultValue<number> }): OptionDef<number, true>;
export function port(o: NumberInput): OptionDef<number, false>;
export function port(o: NumberInput): OptionDef<number> { return make('port', o); }

export function int(o: NumberInput & { default: DefaultValue<number> }): OptionDef<number, true>;
export function int(o: NumberInput): OptionDef<number, false>;
export function int(o: NumberInput): OptionDef<number> { return make('int', o); }

export function seconds(o: NumberInput & { default: DefaultValue<number> }): OptionDef<number, true>;
export function seconds(o: NumberInput): OptionDef<number, false>;
export function seconds(o: NumberInput): OptionDef<number> { return make('seconds', o); }

export function bool(o: Input<boolean> & { default: DefaultValue<boolean> }): OptionDef<boolean, true> {
  return make('bool', o) as OptionDef<boolean, true>;
}

export function oneOf<const C extends readonly string[]>(choices: C, o: Input<C[number]> & { default: DefaultValue<C[number]> }): OptionDef<C[number], true>;
export function oneOf<const C extends readonly string[]>(choices: C, o: Input<C[number]>): OptionDef<C[number], false>;
export function oneOf(choices: readonly string[], o: Input<string>): OptionDef<string> { return make('enum', { ...o, choices }); }

/** Comma-separated items; with `choices`, each must be one of them. */
export function list(o: Input<string[]> & { choices?: readonly string[]; default: DefaultValue<string[]> }): OptionDef<string[], true>;
export function list(o: Input<string[]> & { choices?: readonly string[] }): OptionDef<string[], false>;
export function list(o: Input<string[]> & { choices?: readonly string[] }): OptionDef<string[]> { return make('list', o); }

/** Comma-separated IP addresses and CIDR ranges (10.0.0.0/8, 2001:db8::/32, 127.0.0.1). */
export function addresses(o: Input<string[]> & { default: DefaultValue<string[]> }): OptionDef<string[], true> {
  return make('addresses', o) as OptionDef<string[], true>;
}

/** HOST:PORT (IPv6 as [addr]:port); the value is { host, port }. */
export function hostport(o: Input<HostPort>): OptionDef<HostPort, false> {
  return make('hostport', o) as OptionDef<HostPort, false>;
}

export interface HostPort {
  host: string;
  port: number;
}

/** Comma-separated `HOST:PORT` items, each with its port (e.g. Sentinel addresses). */
export function hostPorts(o: Input<HostPort[]>): OptionDef<HostPort[], false> { return make('hostports', o) as OptionDef<HostPort[], false>; }

/** The Config type a table of OptionDefs describes: fields without a default may be unset. */
export type ConfigOf<T extends Record<string, OptionDef<unknown>>> =
  { -readonly [K in keyof T as T[K] extends OptionDef<unknown, true> ? K : never]: T[K] extends OptionDef<infer V> ? V : never } &
  { -readonly [K in keyof T as T[K] extends OptionDef<unknown, true> ? never : K]?: T[K] extends OptionDef<infer V> ? V : never };
