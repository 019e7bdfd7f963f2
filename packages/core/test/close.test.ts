/**
 * onResponseGone (node/close.ts) on stand-ins for a response and its connection: which close it
 * listens to, that it calls back once, and that it leaves no listener behind. The pipelined cases
 * over real sockets are in packages/testing/test/sockets.test.ts.
 */
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { onResponseGone } from '../src/node/close';

class FakeSocket extends EventEmitter {
  destroyed = false;
}

/** A response: `socket` set once it owns its connection; `req` as Node links it. */
function fakeResponse({ owns = true, http = 1, destroyed = false, socketDestroyed = false } = {}) {
  const socket = new FakeSocket();
  socket.destroyed = socketDestroyed;
  const res = Object.assign(new EventEmitter(), {
    socket: owns ? socket : null,
    destroyed,
    req: { httpVersionMajor: http, socket },
  });
  return { res: res as unknown as ServerResponse & EventEmitter, socket };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('onResponseGone', () => {
  it("calls back once when a response that owns its connection closes, and drops its listener", () => {
    const { res, socket } = fakeResponse();
    const fn = jest.fn();
    onResponseGone(res, fn);
    expect(socket.listenerCount('close')).toBe(0); // its own close is enough
    expect(res.listenerCount('close')).toBe(1);
    res.emit('close');
    res.emit('close');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(res.listenerCount('close')).toBe(0);
  });

  it('watches the connection of a response queued behind another (pipelined HTTP/1), raising its listener limit', () => {
    const { res, socket } = fakeResponse({ owns: false });
    socket.setMaxListeners(10);
    const fns = [jest.fn(), jest.fn(), jest.fn()];
    for (const fn of fns) onResponseGone(res, fn);
    expect(socket.listenerCount('close')).toBe(3);
    expect(socket.getMaxListeners()).toBe(13);
    socket.emit('close');
    for (const fn of fns) expect(fn).toHaveBeenCalledTimes(1);
    expect(socket.listenerCount('close')).toBe(0);
    expect(res.listenerCount('close')).toBe(0);
    expect(socket.getMaxListeners()).toBe(10);
    res.emit('close');
    for (const fn of fns) expect(fn).toHaveBeenCalledTimes(1);
  });

  it('stops watching the connection once the queued response closes by itself', () => {
    const { res, socket } = fakeResponse({ owns: false });
    socket.setMaxListeners(10);
    const fn = jest.fn();
    onResponseGone(res, fn);
    res.emit('close');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(socket.listenerCount('close')).toBe(0);
    expect(socket.getMaxListeners()).toBe(10);
    socket.emit('close');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('never lowers the listener limit below zero', () => {
    const { res, socket } = fakeResponse({ owns: false });
    onResponseGone(res, jest.fn());
    socket.setMaxListeners(0); // someone set "unlimited" meanwhile
    socket.emit('close');
    expect(socket.getMaxListeners()).toBe(0);
  });

  it('releases at once (next microtask) a queued response whose connection is already gone', async () => {
    const { res, socket } = fakeResponse({ owns: false, socketDestroyed: true });
    const fn = jest.fn();
    onResponseGone(res, fn);
    expect(fn).not.toHaveBeenCalled();
    await Promise.resolve();
    expect(fn).toHaveBeenCalledTimes(1);
    expect(socket.listenerCount('close')).toBe(0);
  });

  it('releases at once a response, or the connection it owns, already destroyed', async () => {
    for (const gone of [{ destroyed: true }, { socketDestroyed: true }]) {
      const { res } = fakeResponse(gone);
      const fn = jest.fn();
      onResponseGone(res, fn);
      expect(fn).not.toHaveBeenCalled();
      await tick();
      expect(fn).toHaveBeenCalledTimes(1);
      res.emit('close');
      expect(fn).toHaveBeenCalledTimes(1);
    }
  });

  it("does not watch an HTTP/2 stream's session: its reset closes the response", async () => {
    const { res, socket } = fakeResponse({ owns: false, http: 2 });
    const fn = jest.fn();
    onResponseGone(res, fn);
    expect(socket.listenerCount('close')).toBe(0);
    await tick();
    expect(fn).not.toHaveBeenCalled();
    res.emit('close');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('waits for a live response that owns a live connection', async () => {
    const { res } = fakeResponse();
    const fn = jest.fn();
    onResponseGone(res, fn);
    await tick();
    expect(fn).not.toHaveBeenCalled();
  });
});

describe('onResponseGone, more edges', () => {
  it('calls back once when a destroyed response also emits close before the microtask', async () => {
    const { res } = fakeResponse({ destroyed: true });
    const fn = jest.fn();
    onResponseGone(res, fn);
    res.emit('close');
    await tick();
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('takes a response with neither socket nor request (a stand-in) as one that owns its connection', () => {
    const res = Object.assign(new EventEmitter(), { socket: null, destroyed: false }) as unknown as ServerResponse & EventEmitter;
    const fn = jest.fn();
    expect(() => onResponseGone(res, fn)).not.toThrow();
    res.emit('close');
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
