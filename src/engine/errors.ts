// Every error the engine raises on purpose, under one base class, and what each means for the
// run's outcome (and so for the CLI's exit code and the Action's `outcome` output). Recognised
// with `instanceof`, never by name. Neutral module: kube/, plan/, execute/ and the shells import it.

/** What a run came to, in the words a workflow branches on. The exit code is EXIT_CODES[outcome]. */
export type RunOutcome =
  /** Everything asked for was done (drained, planned without refusal, cordoned, uncordoned). */
  | 'ok'
  /** The drain did not complete: blocked by a budget, timed out, cancelled, a pod failed, a lock lost. */
  | 'incomplete'
  /** Bad input: the error names the input and the fix. Nothing was changed. */
  | 'bad-input'
  /** The availability gate failed (the drain itself may have completed). */
  | 'gate-failed'
  /** The cluster could not be reached, or the identity may not do what the run needs. Nothing was changed. */
  | 'no-access';

export const EXIT_CODES: Readonly<Record<RunOutcome, number>> = {
  ok: 0,
  incomplete: 1,
  'bad-input': 2,
  'gate-failed': 3,
  'no-access': 4,
};

/** The base of every error the engine raises on purpose; `outcome` is what it makes of the run. */
export abstract class SafeDrainError extends Error {
  abstract readonly outcome: RunOutcome;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An error caused by the user's input: names the input and the fix. Raised before any change. */
export class InputError extends SafeDrainError {
  readonly outcome = 'bad-input';

  constructor(
    readonly input: string,
    message: string,
    readonly fix: string,
  ) {
    super(`Input "${input}": ${message}. ${fix}`);
  }
}

/** The identity lacks permissions the run needs (named, each once). Raised before any change. */
export class PermissionError extends SafeDrainError {
  readonly outcome = 'no-access';

  constructor(
    readonly missing: string[],
    rbacFile: string,
    /** What else the user can do about some of them (an option that does without them). */
    hint?: string,
  ) {
    super(
      `missing Kubernetes permissions: ${missing.join(', ')} (cluster-wide). Nothing was changed. ` +
        `Bind the identity in your kubeconfig to the ClusterRole shipped in ${rbacFile}.${hint ? ` ${hint}` : ''}`,
    );
  }
}

/** The API server did not answer (or not as an API server) before any change. */
export class ClusterUnreachable extends SafeDrainError {
  readonly outcome = 'no-access';

  constructor(
    /** The server URL from the kubeconfig. */
    readonly server: string,
    /** What went wrong, in words (the transport's error). */
    readonly why: string,
    /** Where the kubeconfig came from ("--kubeconfig /x", "KUBECONFIG=...", "~/.kube/config", "in-cluster"). */
    readonly source?: string,
  ) {
    super(
      `cannot reach the API server ${server}${source ? ` (kubeconfig from ${source})` : ''}: ${why}. Nothing was changed. ` +
        'Check that the cluster is up and reachable from here, and that the kubeconfig names the right server and has valid credentials.',
    );
  }
}

/** The API server refused the kubeconfig's credentials (401) before any change. */
export class CredentialsRefused extends SafeDrainError {
  readonly outcome = 'no-access';

  constructor(
    readonly server: string,
    /** Where the kubeconfig came from, as ClusterUnreachable's `source`. */
    readonly source?: string,
  ) {
    super(
      `the API server ${server} refused the credentials of the kubeconfig${source ? ` from ${source}` : ''} (401 Unauthorized). Nothing was changed. ` +
        'Renew them (an expired token or certificate, a cloud login that ran out) or use a kubeconfig made for this cluster.',
    );
  }
}

/** The API server's Kubernetes version lacks the APIs the run needs (kube/server-version.ts). Raised before any change. */
export class UnsupportedCluster extends SafeDrainError {
  readonly outcome = 'no-access';
}

/** The run was cancelled (signal, abort-on-downtime) before it changed anything. */
export class CancelledBeforeChange extends SafeDrainError {
  readonly outcome = 'incomplete';

  constructor(why: string, phase: string) {
    super(`${why} ${phase}: nothing was changed`);
  }
}

/** A wait ended early: the drain's timeout, a cancellation, a lost lock, the gate's abort. */
export class WaitAborted extends SafeDrainError {
  readonly outcome = 'incomplete';

  constructor(readonly why: string) {
    super(why);
  }
}

/** An answer about one pod the user must act on (a second PDB, a forbidden eviction, an overloaded server). */
export class PodFailure extends SafeDrainError {
  readonly outcome = 'incomplete';
}

/** A migration cannot finish on its own (unschedulable replacement, stalled rollout, replicas changed by someone else). */
export class MigrationStuck extends SafeDrainError {
  readonly outcome = 'incomplete';
}

/** What an error thrown out of a run means for its outcome: unknown errors count as 'incomplete'. */
export function outcomeOfError(err: unknown): RunOutcome {
  return err instanceof SafeDrainError ? err.outcome : 'incomplete';
}
