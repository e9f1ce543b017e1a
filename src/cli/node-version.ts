// Which Node.js versions the CLI runs on. The bundle's dependencies (undici in
// @kubernetes/client-node) fail on older ones while being loaded, with a TypeError that says
// nothing of versions; index.ts asks this module first. Kept free of imports so that it loads
// on any Node.

/** The lowest major version an engines range of the form ">=N" (package.json) allows. */
export function minimumNodeMajor(engines: string): number {
  const match = /^>=\s*(\d+)(\.\d+){0,2}$/.exec(engines.trim());
  if (!match) throw new Error(`package.json engines.node "${engines}" is not of the form ">=N"`);
  return Number(match[1]);
}

/** undefined when `found` (process.versions.node) satisfies `engines`; otherwise what to tell the user. */
export function unsupportedNodeMessage(found: string, engines: string, executable: string): string | undefined {
  const required = minimumNodeMajor(engines);
  const major = Number(found.split('.')[0]);
  if (Number.isInteger(major) && major >= required) return undefined;
  return (
    `safe-drain needs Node.js ${required} or newer; ${executable} is Node.js ${found}. ` +
    `Run it with Node.js ${required}+ (e.g. \`nvm install ${required}\`, or put a newer node first on PATH).`
  );
}
