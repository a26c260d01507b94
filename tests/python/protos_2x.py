"""proto/v2/ against spaceone-api 2.0.435 as published: the wheel is downloaded from PyPI,
scripts/protos-2x.py must write exactly the committed files from its descriptors, and those
files compiled by protoc (grpcio-tools) must declare every message, field (name, number,
type, label) and method of the wheel's own descriptors.

Prints "python: N passed, M failed" and exits non-zero on any failure.
"""

import ast
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile

from spaceone_clients import report

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WHEEL = "spaceone_api-2.0.435-py3-none-any.whl"


def generator():
    spec = importlib.util.spec_from_file_location("protos_2x", os.path.join(ROOT, "scripts", "protos-2x.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unpacked_wheel():
    """The wheel unpacked under target/ (downloaded once)."""
    cache = os.path.join(ROOT, "target", "wheels")
    os.makedirs(cache, exist_ok=True)
    wheel = os.path.join(cache, WHEEL)
    if not os.path.exists(wheel):
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--disable-pip-version-check", "spaceone-api==2.0.435", "-d", cache], check=True)
    unpacked = os.path.join(cache, "spaceone-api-2.0.435")
    if not os.path.isdir(unpacked):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked)
    return unpacked


def check_files_are_written_from_the_wheel():
    module, wheel = generator(), unpacked_wheel()
    with tempfile.TemporaryDirectory() as out:
        module.main(wheel, out)
        for name in module.FILES:
            ours = open(os.path.join(ROOT, "proto", "v2", name)).read()
            written = open(os.path.join(out, name)).read()
            assert ours == written, f"proto/v2/{name} differs from what scripts/protos-2x.py writes"


def shape(file):
    """What a client depends on: messages (nested too) with their fields, enums, services."""
    out = {}

    def message(prefix, m):
        out[prefix + m.name] = sorted((f.name, f.number, f.type, f.label, f.type_name, f.oneof_index
                                       if f.HasField("oneof_index") else None) for f in m.field
                                      if not m.options.map_entry)
        for e in m.enum_type:
            out[prefix + m.name + "." + e.name] = sorted((v.name, v.number) for v in e.value)
        for n in m.nested_type:
            message(prefix + m.name + ".", n)

    for m in file.message_type:
        message("", m)
    for e in file.enum_type:
        out[e.name] = sorted((v.name, v.number) for v in e.value)
    for s in file.service:
        out["service " + s.name] = sorted((r.name, r.input_type, r.output_type) for r in s.method)
    return out


def check_compiled_files_declare_what_the_wheel_declares():
    from google.protobuf import descriptor_pb2
    from grpc_tools import protoc
    import grpc_tools

    module, wheel = generator(), unpacked_wheel()
    includes = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    with tempfile.TemporaryDirectory() as out:
        descriptor = os.path.join(out, "set.bin")
        status = protoc.main(["protoc", f"-I{os.path.join(ROOT, 'proto', 'v2')}", f"-I{includes}",
                              f"--descriptor_set_out={descriptor}", *module.FILES])
        assert status == 0, f"protoc refused proto/v2 ({status})"
        ours = {f.name: f for f in descriptor_pb2.FileDescriptorSet.FromString(open(descriptor, "rb").read()).file}
    for name in module.FILES:
        source = open(os.path.join(wheel, name.replace(".proto", "_pb2.py"))).read()
        published = None
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "AddSerializedFile":
                published = descriptor_pb2.FileDescriptorProto.FromString(ast.literal_eval(node.args[0]))
        assert published is not None, f"no descriptor in the wheel's {name}"
        assert ours[name].package == published.package, name
        assert shape(ours[name]) == shape(published), f"{name}: our declarations differ from the wheel's"


if __name__ == "__main__":
    sys.exit(report([
        ("proto/v2 is what scripts/protos-2x.py writes from spaceone-api 2.0.435", check_files_are_written_from_the_wheel),
        ("proto/v2 compiled declares every message, field and method of the wheel", check_compiled_files_declare_what_the_wheel_declares),
    ]))
