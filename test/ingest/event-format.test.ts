import { describe, expect, it } from 'vitest';
import { EventFormatError, parseEventFormat, parseEventHeaderFormat, parsePageHeaderFormat } from '../../src/tracefs/event-format.js';
import { fixtureText, recordedFormatTexts } from './raw-fixtures.js';

describe('parseEventFormat on the recorded format files', () => {
  it('keeps every field line with its offset, size and sign exactly as the kernel wrote it', () => {
    for (const [ev, text] of recordedFormatTexts()) {
      const [system, name] = ev.split('/') as [string, string];
      const format = parseEventFormat(text, system);
      expect(format).toMatchObject({ name, system, id: Number(/^ID: (\d+)$/m.exec(text)?.[1]) });
      const fieldLines = text.split('\n').filter((l) => l.trimStart().startsWith('field:'));
      expect(format.fields.size).toBe(fieldLines.length);
      for (const f of format.fields.values()) {
        const line = fieldLines.find((l) => new RegExp(`[ \\]]${f.name}(\\[\\d+\\])?;`).test(l));
        expect(line, `${ev} ${f.name}`).toContain(`offset:${f.offset};\tsize:${f.size};\tsigned:${f.signed ? 1 : 0};`);
      }
      expect(format.fields.get('common_type')).toMatchObject({ offset: 0, size: 2, isArray: false, isDataLoc: false });
    }
  });

  it('recognises fixed arrays, char arrays and __data_loc strings', () => {
    const texts = recordedFormatTexts();
    const enter = parseEventFormat(texts.get('raw_syscalls/sys_enter') ?? '', 'raw_syscalls');
    const args = enter.fields.get('args');
    expect(args).toMatchObject({ type: 'unsigned long', isArray: true, arrayLength: 6, isDataLoc: false });
    expect((args?.size ?? 0) / 6).toBe(8);
    const exec = parseEventFormat(texts.get('sched/sched_process_exec') ?? '', 'sched');
    expect(exec.fields.get('filename')).toMatchObject({ type: 'char', isDataLoc: true, isArray: true, arrayLength: undefined, size: 4 });
    expect(exec.fields.get('pid')).toMatchObject({ type: 'pid_t', signed: true, isArray: false });
    const exit = parseEventFormat(texts.get('sched/sched_process_exit') ?? '', 'sched');
    expect(exit.fields.get('comm')).toMatchObject({ type: 'char', isArray: true, arrayLength: 16, size: 16, isDataLoc: false });
  });

  it('marks __rel_loc fields (offset counted from the field end)', () => {
    const text = 'name: x\nID: 7\nformat:\n\tfield:__rel_loc char[] msg;\toffset:8;\tsize:4;\tsigned:0;\n';
    expect(parseEventFormat(text, 's').fields.get('msg')).toMatchObject({ isRelLoc: true, isDataLoc: false, type: 'char' });
  });

  it('rejects a file without an ID', () => {
    expect(() => parseEventFormat('name: x\nformat:\n', 's')).toThrow(EventFormatError);
  });
});

describe('page and event header descriptions', () => {
  it('derives the sub-buffer layout from header_page', () => {
    const text = fixtureText('raw-header_page.txt');
    const ph = parsePageHeaderFormat(text);
    expect(ph.timestamp).toEqual({ offset: 0, size: 8 });
    expect(text).toContain(`field: local_t commit;\toffset:${ph.commit.offset};\tsize:${ph.commit.size};`);
    expect(text).toContain(`field: char data;\toffset:${ph.dataOffset};\tsize:${ph.dataSize};`);
    expect(ph.subBufferSize).toBe(ph.dataOffset + ph.dataSize);
    // The lab instance ran with buffer_subbuf_size_kb 4.
    expect(ph.subBufferSize).toBe(4096);
  });

  it('follows a larger sub-buffer when the instance has one', () => {
    const text = fixtureText('raw-header_page.txt').replace(/size:4080;/, 'size:8176;');
    expect(parsePageHeaderFormat(text).subBufferSize).toBe(8192);
  });

  it('reads the event header bit split and special types from header_event', () => {
    expect(parseEventHeaderFormat(fixtureText('raw-header_event.txt'))).toEqual({
      typeLenBits: 5,
      timeDeltaBits: 27,
      paddingType: 29,
      timeExtendType: 30,
      timeStampType: 31,
      dataMaxTypeLen: 28,
    });
  });

  it('rejects a header_event whose bits do not make a u32', () => {
    const text = fixtureText('raw-header_event.txt').replace('27 bits', '26 bits');
    expect(() => parseEventHeaderFormat(text)).toThrow(/33|31|expected 32/);
    expect(() => parseEventHeaderFormat('nothing here')).toThrow(EventFormatError);
  });
});
