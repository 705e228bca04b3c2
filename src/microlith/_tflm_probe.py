"""Which ops the installed TFLM's op resolver registers.

Run as a script in a child process (see coverage.py). For every builtin opcode of the schema,
and for each custom op name given on the command line, it writes a one-op model with the
flatbuffers schema and asks TFLM's interpreter to allocate it. TFLM reports an op its
resolver lacks as "Failed to get registration from op code ..."; any other outcome (the op's
Prepare accepting or rejecting our dummy operands) means the resolver has it. Each attempt runs
in a forked process, since TFLM's Prepare may crash on dummy operands. Prints one JSON object
{op name: true/false} on stdout.

Which types TFLM runs an op in is not probed: many kernels check types only in Eval, on
operands no generic template fits, so a probe would guess. coverage.py names the ops TFLM runs
only in float or bool, with the kernel file that says so.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import tempfile


def main() -> int:
    import flatbuffers
    from tflite_micro.python.tflite_micro import runtime
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    def one_op_model(code: int, custom: str | None = None) -> bytes:
        m = fb.ModelT()
        m.version = 3
        oc = fb.OperatorCodeT()
        oc.builtinCode, oc.deprecatedBuiltinCode = code, min(code, 127)
        if custom:
            oc.customCode = custom.encode()
        m.operatorCodes = [oc]
        tensors = []
        for i in range(2):
            t = fb.TensorT()
            t.shape, t.type, t.buffer, t.name = [1, 4], fb.TensorType.FLOAT32, 0, f"t{i}".encode()
            tensors.append(t)
        sg = fb.SubGraphT()
        sg.tensors, sg.inputs, sg.outputs = tensors, [0], [1]
        op = fb.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
        sg.operators, m.subgraphs, m.buffers = [op], [sg], [fb.BufferT()]
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    # TFLM prints through its error reporter to fd 2: catch it in a file, one attempt at a time.
    log = tempfile.TemporaryFile()
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)

    def registered(buf: bytes) -> bool:
        log.seek(0)
        log.truncate()
        pid = os.fork()
        if pid == 0:
            signal.alarm(5)
            try:
                runtime.Interpreter.from_bytes(buf)
            except BaseException:  # expected: the dummy operands rarely fit the op
                pass
            os._exit(0)
        os.waitpid(pid, 0)
        log.seek(0)
        return "Failed to get registration" not in log.read().decode(errors="replace")

    names = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
    result = {}
    try:
        for code in sorted(names):
            if names[code] not in ("CUSTOM", "PLACEHOLDER_FOR_GREATER_OP_CODES"):
                result[names[code]] = registered(one_op_model(code))
        for custom in sys.argv[1:]:
            result["CUSTOM:" + custom] = registered(one_op_model(fb.BuiltinOperator.CUSTOM, custom))
    finally:
        os.dup2(saved, 2)
    json.dump(result, sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
