/**
 * Guest time and the device event queue. Guest time is in nanoseconds since
 * power-on; it is a deterministic function of the instruction count (and, in
 * host-clock mode, of logged sync points), supplied by the machine through
 * `GuestClock`. Devices never read host time.
 */
export interface GuestClock {
  /** Guest nanoseconds since power-on. Monotonic, deterministic. */
  nowNs(): number;
  /** Wall-clock time at power-on, in ms since the Unix epoch (UTC). Fixed for a run and logged. */
  readonly epochMs: number;
}

export class Task {
  due = 0;
  next: Task | null = null;
  scheduled = false;
  constructor(
    readonly name: string,
    readonly onDue: (nowNs: number) => void,
  ) {}
}

/** A sorted singly linked list of device deadlines in guest ns. */
export class Scheduler {
  private head: Task | null = null;

  /** Schedule `task` at absolute guest time `atNs` (replacing an earlier schedule of it). */
  scheduleAt(task: Task, atNs: number): void {
    if (task.scheduled) this.cancel(task);
    task.due = atNs;
    task.scheduled = true;
    let prev: Task | null = null;
    let cur = this.head;
    while (cur !== null && cur.due <= atNs) {
      prev = cur;
      cur = cur.next;
    }
    task.next = cur;
    if (prev === null) {
      this.head = task;
      if (this.onNewHead !== null) this.onNewHead(atNs);
    } else prev.next = task;
  }

  /** Called when a task becomes the earliest (the machine then ends its current slice). */
  onNewHead: ((dueNs: number) => void) | null = null;

  cancel(task: Task): void {
    if (!task.scheduled) return;
    let prev: Task | null = null;
    let cur = this.head;
    while (cur !== null && cur !== task) {
      prev = cur;
      cur = cur.next;
    }
    if (cur === task) {
      if (prev === null) this.head = task.next;
      else prev.next = task.next;
    }
    task.next = null;
    task.scheduled = false;
  }

  /** Due time of the earliest task, or Infinity. */
  nextDue(): number {
    return this.head === null ? Number.POSITIVE_INFINITY : this.head.due;
  }

  /** Run every task due at or before `nowNs`, in order. Tasks may reschedule themselves. */
  runDue(nowNs: number): void {
    while (this.head !== null && this.head.due <= nowNs) {
      const t = this.head;
      this.head = t.next;
      t.next = null;
      t.scheduled = false;
      t.onDue(t.due);
    }
  }
}
