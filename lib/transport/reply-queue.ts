import { writeMessage, type FrameWriter, type Message } from "../protocol/index.ts";
import { ALREADY, Waiters } from "../util/waiters.ts";
import type { SocketWriter } from "./socket-writer.ts";

/** One request's answer: undefined for none (the connection is closing). */
export interface ReplySlot {
  settled: boolean;
  message: Message | undefined;
}

/** The slots of every queue with no answer pending (frozen: never pushed to), so an idle connection holds no array. */
const NO_SLOTS: ReplySlot[] = Object.freeze([]) as unknown as ReplySlot[];

/**
 * A connection's answers in request order: each is written once it and every one before it have settled,
 * whenever that is (a session may hold one for long), so a client reads its answers in the order it
 * asked. Its length is the requests in progress. It holds an array only while it has answers to hold:
 * at 10,000 connections that is memory.
 */
export class ReplyQueue {
  private slots = NO_SLOTS;
  /** Woken once every answer queued so far has been written (see whenEmpty). */
  private readonly emptied = new Waiters();

  /** Requests in progress: their answers are not written yet. */
  get length(): number {
    return this.slots.length;
  }

  /** Queues a request's answer, known now (undefined: none). */
  addSettled(message: Message | undefined): void {
    this.push({ settled: true, message });
  }

  /** Queues a place for a request's answer, given later with `settle`. */
  addPending(): ReplySlot {
    return this.push({ settled: false, message: undefined });
  }

  private push(slot: ReplySlot): ReplySlot {
    if (this.slots === NO_SLOTS) this.slots = [];
    this.slots.push(slot);
    return slot;
  }

  settle(slot: ReplySlot, message: Message | undefined): void {
    slot.settled = true;
    slot.message = message;
  }

  /**
   * Encodes the settled answers at the head of the queue with `frames`, in order, and hands them to the
   * socket writer, gathered with the other replies of this turn (the OKs of one group commit) into one
   * send. Returns how many left the queue.
   */
  writeSettled(writer: SocketWriter, frames: FrameWriter): number {
    const slots = this.slots;
    let written = 0;
    for (; written < slots.length && slots[written]!.settled; written++) {
      const { message } = slots[written]!;
      if (message) writer.writeSoon(writeMessage(frames, message).take());
    }
    if (written === 0) return 0;
    if (written === slots.length) this.slots = NO_SLOTS;
    else slots.splice(0, written);
    if (this.slots.length === 0) this.emptied.wake();
    return written;
  }

  /** Resolves once every answer queued so far has been written. */
  whenEmpty(): Promise<void> {
    return this.slots.length === 0 ? ALREADY : this.emptied.wait();
  }
}
