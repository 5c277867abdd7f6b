/** Builds the web page and API reference into `outdir` (default dist/web). */
export function buildWeb(outdir?: string): Promise<void>;
