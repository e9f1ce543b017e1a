// The CLI's commands and flags, as kubectl users know them: one subcommand per operation
// (`safe-drain drain w1`), node names as arguments or `-l`, and only the flags that mean
// something to that command in its --help. Flag names are the Action's input names; where a
// kubectl flag of the same name means something else, its description says so.
import { Command, Option } from 'commander';
import type { Operation } from '../engine/types.js';

/** The subcommands, in the order --help lists them. */
export const COMMANDS: readonly Operation[] = ['drain', 'plan', 'cordon', 'uncordon'];

interface FlagSpec {
  /** The Action's input name; the flag is `--${name}`. */
  name: string;
  /** commander's flag syntax, when it is not `--name <value>`. */
  syntax?: string;
  description: string;
  /** Takes true/false; `--flag` alone means true and `--no-flag` false (see normalizeBooleanFlags). */
  boolean?: boolean;
  /** May be given several times; the values are joined with commas. */
  repeatable?: boolean;
  commands: readonly Operation[];
}

const ALL = COMMANDS;
const EVICTING: readonly Operation[] = ['drain', 'plan'];
const DRAIN: readonly Operation[] = ['drain'];
const CHANGING: readonly Operation[] = ['drain', 'cordon', 'uncordon'];

/** Every flag but -o/-v/--help, each listed only under the commands it means something to. */
const FLAGS: readonly FlagSpec[] = [
  { name: 'selector', syntax: '-l, --selector <selector>', description: 'label selector of the nodes, as kubectl -l (instead of NODE names)', commands: ALL },
  { name: 'node', syntax: '--node <name>', description: 'same as a NODE argument (repeatable, or comma-separated)', repeatable: true, commands: ALL },
  { name: 'ignore-daemonsets', description: "leave DaemonSet pods on the node (default: true; kubectl's default is false, which refuses them)", boolean: true, commands: EVICTING },
  { name: 'delete-emptydir-data', description: 'evict pods using emptyDir, losing that data (default: false, as kubectl)', boolean: true, commands: EVICTING },
  { name: 'force', description: 'evict pods no controller manages; nothing recreates them (default: false, as kubectl)', boolean: true, commands: EVICTING },
  { name: 'grace-period', syntax: '--grace-period <seconds>', description: "seconds each pod gets to terminate; -1 = the pod's own (default: -1, as kubectl)", commands: DRAIN },
  { name: 'pod-selector', syntax: '--pod-selector <selector>', description: 'only move pods matching this label selector (as kubectl)', commands: EVICTING },
  {
    name: 'timeout',
    syntax: '--timeout <duration>',
    description: 'give up draining a node after this long, e.g. 90s, 10m; 0 = never (default: 0, as kubectl)',
    commands: DRAIN,
  },
  {
    name: 'skip-wait-for-delete-timeout',
    syntax: '--skip-wait-for-delete-timeout <seconds>',
    description: 'do not wait for pods deleted longer ago than this; 0 = always wait (default: 0, as kubectl)',
    commands: EVICTING,
  },
  {
    name: 'dry-run',
    description: "server-side dry run: the API server checks the cordon and each eviction, nothing persists (default: false; kubectl's none|server|client are accepted, client runs on the server too)",
    boolean: true,
    commands: CHANGING,
  },
  { name: 'max-concurrent-evictions', syntax: '--max-concurrent-evictions <n>', description: 'evictions in flight at once, across all nodes of the run (default: 10)', commands: DRAIN },
  {
    name: 'max-unavailable-nodes',
    syntax: '--max-unavailable-nodes <n>',
    description: 'nodes drained at once: a count, or a percentage of the selected nodes such as 10% (default: 1)',
    commands: EVICTING,
  },
  { name: 'wait-for-replacements', description: "wait until evicted pods' workloads are back to their ready count (default: false)", boolean: true, commands: DRAIN },
  { name: 'uncordon-on-failure', description: 'uncordon the node again if its drain fails (default: false)', boolean: true, commands: DRAIN },
  { name: 'migration', syntax: '--migration <mode>', description: 'surge: a replacement comes up before the last ready pod goes | evict: plain evictions, as kubectl (default: surge)', commands: EVICTING },
  {
    name: 'availability',
    syntax: '--availability <services>',
    description: 'Services the availability gate watches: auto | off | ns/name,... | "namespaces: a,b" | "selector: app=web" (default: auto)',
    commands: EVICTING,
  },
  { name: 'probe-urls', syntax: '--probe-urls <urls>', description: 'http(s) URLs requested while draining (repeatable, or comma-separated)', repeatable: true, commands: DRAIN },
  { name: 'probe-interval', syntax: '--probe-interval <duration>', description: 'time between two requests to one probe URL (default: 250ms)', commands: DRAIN },
  { name: 'max-downtime', syntax: '--max-downtime <duration>', description: 'fail (exit 3) when a Service had no ready endpoint longer than this, e.g. 0s (default: report only)', commands: EVICTING },
  { name: 'min-ready-ratio', syntax: '--min-ready-ratio <ratio>', description: 'fail (exit 3) when a Service fell below this share of its ready endpoints, e.g. 0.5', commands: EVICTING },
  { name: 'abort-on-downtime', description: 'stop evicting as soon as the gate breaks, restore, report (default: false)', boolean: true, commands: DRAIN },
  { name: 'restore-after', description: 'uncordon the nodes this run cordoned at the end, whatever the outcome (default: false)', boolean: true, commands: DRAIN },
  {
    name: 'respect-do-not-disrupt',
    description: 'refuse a drain, before any change, when a pod it would move has karpenter.sh/do-not-disrupt=true or cluster-autoscaler.kubernetes.io/safe-to-evict=false, or the Node has do-not-disrupt=true; false overrides them, and the report says so (default: true)',
    boolean: true,
    commands: EVICTING,
  },
  {
    name: 'disable-eviction',
    description: "delete pods instead of evicting them, as kubectl --disable-eviction: their PDBs are BYPASSED; each deletion is reported, evented on the node and judged by the availability gate (default: false)",
    boolean: true,
    commands: EVICTING,
  },
  {
    name: 'force-after',
    syntax: '--force-after <duration>',
    description: "delete a pod still waiting on its PDB after this long, e.g. 10m, bypassing the budget (reported like disable-eviction); 0 = never (default: 0)",
    commands: EVICTING,
  },
  {
    name: 'volume-detach-timeout',
    syntax: '--volume-detach-timeout <duration>',
    description: "a node is drained once the removed pods' volumes no longer attach to it (VolumeAttachments, node.status.volumesAttached); give up after this long, 0 = only timeout bounds it, off = do not wait (default: 6m)",
    commands: DRAIN,
  },
  { name: 'kubeconfig', syntax: '--kubeconfig <file>', description: 'kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then in-cluster, as kubectl)', commands: ALL },
  { name: 'context', syntax: '--context <name>', description: "kubeconfig context (default: its current-context, as kubectl)", commands: ALL },
];

/** Names of the flags that take true/false. */
export const BOOLEAN_FLAGS: readonly string[] = FLAGS.filter((f) => f.boolean).map((f) => f.name);

const SUMMARIES: Record<Operation, string> = {
  drain: 'cordon the nodes, then move their pods without taking their services down (PDB-aware evictions, replacements first)',
  plan: 'say what a drain would do and whether it would be refused; changes nothing',
  cordon: 'mark the nodes unschedulable',
  uncordon: 'mark the nodes schedulable again (and undo what an interrupted drain left on their workloads)',
};

const EXAMPLES: Record<Operation, string[]> = {
  drain: [
    'safe-drain drain w1',
    'safe-drain drain -l pool=blue --max-unavailable-nodes 2 --timeout 15m',
    'safe-drain drain w1 --max-downtime 0s -o json > report.json',
  ],
  plan: ['safe-drain plan w1 w2', 'safe-drain plan -l pool=blue --max-downtime 0s'],
  cordon: ['safe-drain cordon w1', 'safe-drain cordon -l pool=blue --dry-run'],
  uncordon: ['safe-drain uncordon w1'],
};

export const EXIT_CODE_HELP =
  'Exit codes: 0 done, 1 the drain did not complete (blocked, timed out, cancelled), 2 bad input (nothing changed), ' +
  '3 the availability gate failed, 4 cluster unreachable or not authorised (nothing changed).';

/** The program; `onCommand` receives the operation, the NODE arguments and the flags of the command run. */
export function buildProgram(
  version: string,
  output: { writeOut(text: string): void; writeErr(text: string): void },
  onCommand: (operation: Operation, nodes: string[], flags: Record<string, unknown>) => void,
): Command {
  const program = new Command('safe-drain')
    .description('Take Kubernetes nodes out of service without taking the services on them down.')
    .version(version)
    .usage('<command> [NODE...] [flags]')
    .addHelpText('after', `\nRun \`safe-drain <command> --help\` for a command's flags.\n${EXIT_CODE_HELP}`)
    .exitOverride()
    .configureOutput(output);
  for (const operation of COMMANDS) {
    const command = program
      .command(operation)
      .summary(SUMMARIES[operation])
      .description(`${SUMMARIES[operation][0]!.toUpperCase()}${SUMMARIES[operation].slice(1)}.`)
      .argument('[NODE...]', 'names of the nodes (or select them with -l)')
      .usage('[NODE...] [flags]')
      .action((nodes: string[], flags: Record<string, unknown>) => onCommand(operation, nodes, flags));
    for (const flag of FLAGS.filter((f) => f.commands.includes(operation))) command.addOption(toOption(flag));
    command
      .addOption(new Option('-o, --output <format>', 'result format on stdout, as kubectl -o').choices(['text', 'json']).default('text'))
      .option('-v, --verbose', "also print debug messages (kubectl's -v=N takes a level; here any level turns them on)")
      .addHelpText('after', `\nExamples:\n${EXAMPLES[operation].map((e) => `  ${e}`).join('\n')}\n\nBoolean flags accept --flag, --flag=false and --no-flag.\n${EXIT_CODE_HELP}`);
  }
  return program;
}

function toOption(flag: FlagSpec): Option {
  const syntax = flag.syntax ?? (flag.boolean ? `--${flag.name} [bool]` : `--${flag.name} <value>`);
  const option = new Option(syntax, flag.description);
  return flag.repeatable ? option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]) : option;
}
