// A Kubernetes list answer ({"kind":..,"metadata":{..},"items":[{..},{..}]}) split into its items
// while it arrives: each item is parsed on its own as soon as its last byte is in, and handed
// over. A whole page parsed at once keeps all its objects alive through the parse, so the
// young generation copies them and promotes them to the old one, where they die later and
// grow the heap; one item at a time dies young. The list's own fields (metadata.continue) are
// known from the bytes before "items", so the next page can be asked for while this one streams.
//
// Pure (bytes in, objects out): the byte scan relies on UTF-8 never using the bytes of `"` and
// `\` inside a multi-byte character, so structure is found without decoding.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const ITEMS_KEY = Buffer.from('"items":[');
const MANAGED_FIELDS = Buffer.from('"managedFields":[');
const M = MANAGED_FIELDS[1];
/** Bytes kept to find "items": beyond this, the answer is not shaped like a list and is parsed whole. */
const MAX_HEADER_BYTES = 64 * 1024;

export interface ListFields {
  metadata?: { continue?: string; resourceVersion?: string; remainingItemCount?: number };
  [key: string]: unknown;
}

/** A list page read as it arrives: ListStream (JSON) and proto-list.ts's ProtoListStream (protobuf). */
export interface ListDecoder<T> {
  /** The list's fields (metadata.continue) as soon as the bytes read hold them. */
  readonly fields: ListFields | undefined;
  /** Feeds the next bytes; returns the items they completed. */
  push(chunk: Buffer): T[];
  /** The end of the answer: the list's fields, and the items not returned yet. */
  end(): { fields: ListFields; items: T[] };
}

export class ListStream<T> implements ListDecoder<T> {
  private phase: 'header' | 'items' | 'trailer' | 'whole' = 'header';
  /** Before "items" (header), after the items (trailer), or everything (whole: not list-shaped). */
  private kept: Buffer[] = [];
  private keptBytes = 0;
  private headerText = '';
  private headerFields?: ListFields;
  // The item being read: its bytes so far, and where the scan is inside it.
  private itemParts: Buffer[] = [];
  private inItem = false;
  /** Nesting inside the items array: 1 = an item's own fields, 2 = inside its metadata (or spec, status). */
  private depth = 0;
  private inString = false;
  /** The last chunk ended inside a string just after a backslash (the next byte is escaped). */
  private escaped = false;
  /** Inside a skipped value: the depth that ends it; 0 when not skipping. */
  private skipUntil = 0;

  /** The list's fields as soon as the bytes before "items" hold them (metadata first, as the API server writes it). */
  get fields(): ListFields | undefined {
    return this.headerFields;
  }

  /** Feeds the next bytes; returns the items they completed, parsed. */
  push(chunk: Buffer): T[] {
    const out: T[] = [];
    if (this.phase === 'header') {
      this.kept.push(chunk);
      this.keptBytes += chunk.length;
      const all = Buffer.concat(this.kept);
      const at = all.indexOf(ITEMS_KEY);
      if (at < 0) {
        if (this.keptBytes > MAX_HEADER_BYTES) this.phase = 'whole';
        else this.kept = [all];
        return out;
      }
      this.headerText = all.toString('utf8', 0, at);
      this.headerFields = parseHeader(this.headerText);
      this.kept = [];
      this.keptBytes = 0;
      this.phase = 'items';
      chunk = all.subarray(at + ITEMS_KEY.length);
    }
    if (this.phase === 'items') this.scanItems(chunk, out);
    else {
      this.kept.push(chunk);
      this.keptBytes += chunk.length;
    }
    return out;
  }

  /**
   * The end of the answer: the list's fields (header and trailer together), and, when the answer
   * was not list-shaped, its items parsed whole.
   */
  end(): { fields: ListFields; items: T[] } {
    const rest = Buffer.concat(this.kept).toString('utf8');
    if (this.phase === 'whole' || this.phase === 'header') {
      const doc = JSON.parse(rest) as ListFields & { items?: T[] };
      const { items, ...fields } = doc;
      return { fields, items: items ?? [] };
    }
    if (this.phase === 'items') throw new Error('the list ended in the middle of its items');
    // The answer without its items: the header ("{...," or "{") joined to the trailer ("}" or ",...}").
    const head = this.headerText.replace(/,\s*$/, '');
    const tail = head.trim() === '{' ? rest.trimStart().replace(/^,/, '') : rest.trimStart();
    const fields = JSON.parse(head + tail) as ListFields;
    return { fields, items: [] };
  }

  private scanItems(chunk: Buffer, out: T[]): void {
    // One tight pass over the bytes, state in locals (a call per string, such as indexOf, costs
    // more than the loop: a pod has hundreds of short strings).
    let depth = this.depth;
    let inString = this.inString;
    let escaped = this.escaped;
    let skipUntil = this.skipUntil;
    // Start of the item's bytes kept from this chunk (-1: none, or inside a skipped value).
    let keptFrom = this.inItem && skipUntil === 0 ? 0 : -1;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const c = chunk[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
        continue;
      }
      if (c === QUOTE) {
        inString = true;
        // metadata.managedFields (a third of a pod's bytes, read by no one here) is cut to [].
        if (depth === 2 && skipUntil === 0 && keptFrom >= 0 && chunk[i + 1] === M && startsWithAt(chunk, i, MANAGED_FIELDS)) {
          const open = i + MANAGED_FIELDS.length; // just after its "["
          this.itemParts.push(chunk.subarray(keptFrom, open));
          keptFrom = -1;
          inString = false;
          depth = 3;
          skipUntil = 2;
          i = open - 1;
        }
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        if (depth === 0) keptFrom = i;
        depth++;
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        if (depth === 0) {
          // The items' closing bracket: what follows is the rest of the list's fields.
          this.phase = 'trailer';
          const rest = chunk.subarray(i + 1);
          this.kept = [rest];
          this.keptBytes = rest.length;
          this.depth = 0;
          this.inItem = false;
          return;
        }
        depth--;
        if (depth === skipUntil && skipUntil > 0) {
          skipUntil = 0;
          keptFrom = i; // the skipped value's closing "]" is kept
        }
        if (depth === 0) {
          const last = chunk.subarray(keptFrom, i + 1);
          const text = this.itemParts.length ? Buffer.concat([...this.itemParts, last]).toString('utf8') : last.toString('utf8');
          this.itemParts = [];
          keptFrom = -1;
          out.push(JSON.parse(text) as T);
        }
      }
    }
    this.depth = depth;
    this.inString = inString;
    this.escaped = escaped;
    this.skipUntil = skipUntil;
    this.inItem = depth > 0;
    if (keptFrom >= 0) this.itemParts.push(chunk.subarray(keptFrom));
  }
}

function startsWithAt(chunk: Buffer, at: number, what: Buffer): boolean {
  if (at + what.length > chunk.length) return false; // across chunks: kept, which is only slower
  for (let k = 0; k < what.length; k++) if (chunk[at + k] !== what[k]) return false;
  return true;
}

/** `{"kind":"PodList",...,"metadata":{...},` → its fields; undefined while they are not all there. */
function parseHeader(text: string): ListFields | undefined {
  try {
    return JSON.parse(`${text.replace(/,\s*$/, '')}}`) as ListFields;
  } catch {
    return undefined;
  }
}
