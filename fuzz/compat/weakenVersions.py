"""Marks version requirements of an ELF file weak (VER_FLG_WEAK), so that the dynamic loader
accepts a library that lacks them (glibc's loader only warns about weak versions).
   weakenVersions.py FILE VERSION...   e.g. GLIBC_2.38 GLIBCXX_3.4.32
Used by scripts/jazzer-compat.sh, after the symbols that needed those versions are unversioned
and provided by jazzerCompat.c."""
import struct
import sys

VER_FLG_WEAK = 0x2
SHT_GNU_VERNEED = 0x6FFFFFFE


def main(path, names):
    data = bytearray(open(path, 'rb').read())
    if data[:4] != b'\x7fELF' or data[4] != 2 or data[5] != 1:
        sys.exit(f'{path}: not a 64-bit little-endian ELF file')
    (shoff,) = struct.unpack_from('<Q', data, 0x28)
    shentsize, shnum, _ = struct.unpack_from('<HHH', data, 0x3A)
    sections = [struct.unpack_from('<IIQQQQIIQQ', data, shoff + i * shentsize) for i in range(shnum)]
    verneed = next(s for s in sections if s[1] == SHT_GNU_VERNEED)
    strings = sections[verneed[6]][4]

    def name_at(offset):
        start = strings + offset
        return bytes(data[start:data.index(0, start)]).decode()

    weakened = []
    entry = verneed[4]
    for _ in range(verneed[7]):
        _, count, _, aux_offset, next_offset = struct.unpack_from('<HHIII', data, entry)
        aux = entry + aux_offset
        for _ in range(count):
            _, flags, _, name, aux_next = struct.unpack_from('<IHHII', data, aux)
            if name_at(name) in names:
                struct.pack_into('<H', data, aux + 4, flags | VER_FLG_WEAK)
                weakened.append(name_at(name))
            aux += aux_next
        entry += next_offset
    open(path, 'wb').write(data)
    print('weakened:', ', '.join(weakened) or 'nothing')


if __name__ == '__main__':
    main(sys.argv[1], set(sys.argv[2:]))
