// Apart from the manifest schema (./config.ts), so the preflight that the
// collector's worker runs does not load zod.
/** Linux interface names: at most 15 characters, none of them a slash, space or colon-led trick. */
export const IFACE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
