// The few WebAssembly System Interface (wasi_snapshot_preview1) calls the playground's engine
// makes, in the browser: standard input from memory, standard output and error collected, the
// clock, randomness and exit. There is no file system, environment or network: every other
// call fails with ENOSYS or EBADF, which the engine never needs.
(function (root) {
  "use strict";

  const ESUCCESS = 0;
  const EBADF = 8;
  const EINVAL = 28;
  const ENOSYS = 52;
  const FILETYPE_CHARACTER_DEVICE = 2;

  // Thrown by proc_exit to unwind out of the engine with its exit status.
  class Exit {
    constructor(code) {
      this.code = code;
    }
  }

  // Runs the engine `module` (a compiled WebAssembly.Module) once with `input` (bytes) on its
  // standard input. Resolves to { code, stdout, stderr } (texts); a trap (a panic) is exit
  // status 2 with what the engine wrote before it.
  async function run(module, input) {
    let memory = null;
    const view = () => new DataView(memory.buffer);
    const bytes = (pointer, length) => new Uint8Array(memory.buffer, pointer, length);
    let inputOffset = 0;
    const output = { 1: [], 2: [] };

    const wasi = {
      fd_write(fd, iovs, iovsLength, writtenPointer) {
        if (!(fd in output)) return EBADF;
        let written = 0;
        for (let i = 0; i < iovsLength; i++) {
          const pointer = view().getUint32(iovs + i * 8, true);
          const length = view().getUint32(iovs + i * 8 + 4, true);
          output[fd].push(bytes(pointer, length).slice());
          written += length;
        }
        view().setUint32(writtenPointer, written, true);
        return ESUCCESS;
      },
      fd_read(fd, iovs, iovsLength, readPointer) {
        if (fd !== 0) return EBADF;
        let read = 0;
        for (let i = 0; i < iovsLength && inputOffset < input.length; i++) {
          const pointer = view().getUint32(iovs + i * 8, true);
          const length = view().getUint32(iovs + i * 8 + 4, true);
          const chunk = input.subarray(inputOffset, inputOffset + length);
          bytes(pointer, chunk.length).set(chunk);
          inputOffset += chunk.length;
          read += chunk.length;
        }
        view().setUint32(readPointer, read, true);
        return ESUCCESS;
      },
      fd_fdstat_get(fd, statPointer) {
        if (fd > 2) return EBADF;
        // fdstat: filetype u8, flags u16, rights base u64, rights inheriting u64 (24 bytes).
        bytes(statPointer, 24).fill(0);
        view().setUint8(statPointer, FILETYPE_CHARACTER_DEVICE);
        view().setBigUint64(statPointer + 8, 0xffffffffffffffffn, true);
        view().setBigUint64(statPointer + 16, 0xffffffffffffffffn, true);
        return ESUCCESS;
      },
      fd_close: (fd) => (fd <= 2 ? ESUCCESS : EBADF),
      // No preopened directories: the engine reads no files.
      fd_prestat_get: () => EBADF,
      fd_prestat_dir_name: () => EBADF,
      environ_sizes_get(countPointer, sizePointer) {
        view().setUint32(countPointer, 0, true);
        view().setUint32(sizePointer, 0, true);
        return ESUCCESS;
      },
      environ_get: () => ESUCCESS,
      args_sizes_get(countPointer, sizePointer) {
        view().setUint32(countPointer, 0, true);
        view().setUint32(sizePointer, 0, true);
        return ESUCCESS;
      },
      args_get: () => ESUCCESS,
      clock_time_get(clock, precision, timePointer) {
        // Realtime (0) is wall-clock time; the others count from the page's start.
        const nanoseconds =
          clock === 0
            ? BigInt(Date.now()) * 1000000n
            : BigInt(Math.round(performance.now() * 1000000));
        view().setBigUint64(timePointer, nanoseconds, true);
        return ESUCCESS;
      },
      random_get(pointer, length) {
        // getRandomValues fills at most 65,536 bytes at a time.
        for (let offset = 0; offset < length; offset += 65536) {
          crypto.getRandomValues(bytes(pointer + offset, Math.min(65536, length - offset)));
        }
        return ESUCCESS;
      },
      sched_yield: () => ESUCCESS,
      proc_exit(code) {
        throw new Exit(code);
      },
    };

    const imports = {};
    for (const wanted of WebAssembly.Module.imports(module)) {
      if (wanted.kind !== "function") continue;
      imports[wanted.module] = imports[wanted.module] || {};
      const known = wanted.module === "wasi_snapshot_preview1" && wasi[wanted.name];
      imports[wanted.module][wanted.name] = known || (() => (wanted.name.startsWith("fd_") ? EBADF : ENOSYS));
    }
    const instance = await WebAssembly.instantiate(module, imports);
    memory = instance.exports.memory;
    let code = 0;
    let trap = "";
    try {
      instance.exports._start();
    } catch (error) {
      if (error instanceof Exit) {
        code = error.code;
      } else if (error instanceof WebAssembly.RuntimeError) {
        // A panic aborts, and the engine traps: its message is already on standard error.
        code = 2;
        trap = "the engine stopped (" + error.message + "); please report this with the input\n";
      } else {
        throw error;
      }
    }
    const text = (chunks) => new TextDecoder().decode(concat(chunks));
    return { code, stdout: text(output[1]), stderr: text(output[2]) + trap };
  }

  function concat(chunks) {
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const all = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    return all;
  }

  root.PortalWasi = { run, EINVAL };
})(typeof window !== "undefined" ? window : globalThis);
