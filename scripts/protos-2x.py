"""Writes proto/v2/: the Cloudforet 2.x protos spacejobs serves, from the descriptors that
spaceone-api 2.0.435's published wheel carries (its *_pb2.py files), so every name and field
number is the published one. HTTP annotations and imports nothing uses are left out.

    python scripts/protos-2x.py WHEEL_DIR [OUT_DIR]

WHEEL_DIR is the unpacked wheel (`pip download --no-deps spaceone-api==2.0.435`, then unzip);
OUT_DIR defaults to proto/v2. Needs the `protobuf` package. tests/python/protos_2x.py runs it
and fails when the committed files differ from what it writes.
"""
import ast, os, sys
from google.protobuf import descriptor_pb2 as d

T = {v: k[5:].lower() for k, v in d.FieldDescriptorProto.Type.items()}

def serialized(path):
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, 'attr', '') == 'AddSerializedFile':
            return ast.literal_eval(node.args[0])
    raise SystemExit(f'no descriptor in {path}')

def field_type(f):
    if f.type in (d.FieldDescriptorProto.TYPE_MESSAGE, d.FieldDescriptorProto.TYPE_ENUM):
        return f.type_name.lstrip('.')
    return T[f.type]

def message(m, indent, maps):
    """The lines of message `m` (nested enums and messages first)."""
    pad = '    ' * indent
    out = [f'{pad}message {m.name} {{']
    nested_maps = {n.name: n for n in m.nested_type if n.options.map_entry}
    for e in m.enum_type:
        out += enum(e, indent + 1)
    for n in m.nested_type:
        if not n.options.map_entry:
            out += message(n, indent + 1, maps)
    oneofs = {}
    for f in m.field:
        if f.HasField('oneof_index') and not f.proto3_optional:
            oneofs.setdefault(f.oneof_index, []).append(f)
    done = set()
    for f in m.field:
        if f.HasField('oneof_index') and not f.proto3_optional:
            i = f.oneof_index
            if i in done:
                continue
            done.add(i)
            out.append(f'{pad}    oneof {m.oneof_decl[i].name} {{')
            for g in oneofs[i]:
                out.append(f'{pad}        {field_type(g)} {g.name} = {g.number};')
            out.append(f'{pad}    }}')
            continue
        entry_name = f.type_name.split('.')[-1]
        if f.label == d.FieldDescriptorProto.LABEL_REPEATED and entry_name in nested_maps:
            entry = nested_maps[entry_name]
            k, v = entry.field[0], entry.field[1]
            out.append(f'{pad}    map<{field_type(k)}, {field_type(v)}> {f.name} = {f.number};')
            continue
        label = 'repeated ' if f.label == d.FieldDescriptorProto.LABEL_REPEATED else ('optional ' if f.proto3_optional else '')
        out.append(f'{pad}    {label}{field_type(f)} {f.name} = {f.number};')
    out.append(f'{pad}}}')
    return out

def enum(e, indent):
    pad = '    ' * indent
    return [f'{pad}enum {e.name} {{'] + [f'{pad}    {v.name} = {v.number};' for v in e.value] + [f'{pad}}}']

# The files written, and the imports of each that none of its messages use.
FILES = {
    'spaceone/api/core/v2/query.proto': set(),
    'spaceone/api/inventory/v1/job_task.proto': {'spaceone/api/inventory/v1/collector.proto'},
    'spaceone/api/inventory/v1/job.proto': set(),
}

def render(path, unused):
    fd = d.FileDescriptorProto.FromString(serialized(path))
    out = [f'// {fd.name}: written by scripts/protos-2x.py from spaceone-api 2.0.435\'s',
           '// published descriptor; HTTP annotations and unused imports left out.',
           'syntax = "proto3";', '', f'package {fd.package};', '']
    for dep in fd.dependency:
        if dep.startswith('google/api/') or dep in unused:
            continue
        out.append(f'import "{dep}";')
    out.append('')
    for e in fd.enum_type:
        out += enum(e, 0) + ['']
    for m in fd.message_type:
        out += message(m, 0, {}) + ['']
    for s in fd.service:
        out.append(f'service {s.name} {{')
        for r in s.method:
            out.append(f'    rpc {r.name} ({r.input_type.lstrip(".")}) returns ({r.output_type.lstrip(".")});')
        out.append('}')
    return '\n'.join(out).rstrip('\n') + '\n'

def main(wheel, out_dir):
    for name, unused in FILES.items():
        text = render(os.path.join(wheel, name.replace('.proto', '_pb2.py')), unused)
        target = os.path.join(out_dir, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, 'w') as f:
            f.write(text)

if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), '..', 'proto', 'v2'))
