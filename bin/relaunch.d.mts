/** Types of bin/relaunch.mjs (plain JavaScript so that bin/retrace can load it before anything else). */
export function relaunch(script: string): boolean;
