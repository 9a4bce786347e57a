/**
 * What the launcher (lib/cli/pgrewind.sh) passed in the environment, read once and
 * taken out, so that the processes pgrewind starts (postgres, a restore_command) get
 * the environment pgrewind was given: the name it was started as, the node it ran,
 * and the malloc settings the launcher added (glibc has read them by now; those the
 * user set stay). main.ts imports this first.
 */

const env = process.env

/** The path the launcher was started as (or a wrapper of it), when it was. */
export const launchedAs: string | undefined = env.PGREWIND_INVOKED_AS === '' ? undefined : env.PGREWIND_INVOKED_AS

for (const name of (env.PGREWIND_LAUNCHER_SET ?? '').split(' ')) {
  if (name.startsWith('MALLOC_')) delete env[name]
}
delete env.PGREWIND_LAUNCHER_SET
delete env.PGREWIND_INVOKED_AS
delete env.PGREWIND_NODE
