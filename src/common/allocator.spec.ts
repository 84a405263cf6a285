import { describeAllocator, describeHeapFlags } from './allocator';

describe('describeAllocator', () => {
  it('names jemalloc when it is preloaded', () => {
    expect(describeAllocator({ LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2' }, 'linux')).toBe(
      'memory allocator: jemalloc (/usr/lib/x86_64-linux-gnu/libjemalloc.so.2)',
    );
  });

  it('names another preloaded library as it is', () => {
    expect(describeAllocator({ LD_PRELOAD: '/opt/libtcmalloc.so' }, 'linux')).toBe(
      'memory allocator: LD_PRELOAD=/opt/libtcmalloc.so',
    );
  });

  it('says how to get jemalloc on Linux when glibc malloc is in use', () => {
    expect(describeAllocator({}, 'linux')).toMatch(/^memory allocator: glibc malloc .*libjemalloc2.*npm start/);
  });

  it('claims nothing about other platforms', () => {
    expect(describeAllocator({}, 'darwin')).toBe('memory allocator: the platform default');
  });
});

describe('describeHeapFlags', () => {
  it('names the heap flags among the node flags', () => {
    expect(describeHeapFlags(['--enable-source-maps', '--max-semi-space-size=1', '--expose-gc'])).toBe(
      'V8 heap flags: --max-semi-space-size=1',
    );
  });

  it('says where the flags come from when there are none', () => {
    expect(describeHeapFlags(['--enable-source-maps'])).toMatch(/^V8 heap flags: none .*MIMI_NODE_FLAGS/);
  });
});
