import { describe, expect, it } from 'vitest';
import {
  FieldPath,
  fieldErrors,
  formatFieldError,
  formatFieldValue,
  invalidError,
} from '../../src/core/errors';

describe('field error formatting (apimachinery ErrorBody)', () => {
  const p = FieldPath.root('spec').child('ports').index(0).child('port');
  it('kinds', () => {
    expect(formatFieldError(fieldErrors.invalid(p, 0, 'must be between 1 and 65535, inclusive'))).toBe(
      'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
    );
    expect(formatFieldError(fieldErrors.required('spec.ports', ''))).toBe('spec.ports: Required value');
    expect(formatFieldError(fieldErrors.required('metadata.name', 'name or generateName is required'))).toBe(
      'metadata.name: Required value: name or generateName is required',
    );
    expect(formatFieldError(fieldErrors.forbidden('spec.x', 'nope'))).toBe('spec.x: Forbidden: nope');
    expect(formatFieldError(fieldErrors.duplicate('spec.ports[1].name', 'p'))).toBe(
      'spec.ports[1].name: Duplicate value: "p"',
    );
    expect(formatFieldError(fieldErrors.notSupported('spec.type', 'Foo', ['A', 'B']))).toBe(
      'spec.type: Unsupported value: "Foo": supported values: "A", "B"',
    );
    expect(formatFieldError(fieldErrors.tooLong('metadata.annotations', 'x', 262144))).toBe(
      'metadata.annotations: Too long: may not be more than 262144 bytes',
    );
    expect(formatFieldError(fieldErrors.tooLong('a', 'x', 1))).toBe(
      'a: Too long: may not be more than 1 byte',
    );
    expect(formatFieldError(fieldErrors.tooMany('endpoints', 1001, 1000))).toBe(
      'endpoints: Too many: 1001: must have at most 1000 items',
    );
    expect(formatFieldError(fieldErrors.tooMany('endpoints', -1, 1))).toBe(
      'endpoints: Too many: must have at most 1 item',
    );
    expect(formatFieldError(fieldErrors.internal('x', 'boom'))).toBe('x: Internal error: boom');
    expect(formatFieldError(fieldErrors.notFound('x', 'y'))).toBe('x: Not found: "y"');
  });
  it('values as Go prints them', () => {
    expect(formatFieldValue('a"b\\c\n\t\x01é\u200b')).toBe('"a\\"b\\\\c\\n\\t\\x01é\\u200b"');
    expect(formatFieldValue(null)).toBe('null');
    expect(formatFieldValue(undefined)).toBe('null');
    expect(formatFieldValue(true)).toBe('true');
    expect(formatFieldValue(['a', 'b'])).toBe('[]string{"a", "b"}');
    expect(formatFieldValue([])).toBe('[]string{}');
    expect(formatFieldValue({ b: '2', a: '1' })).toBe('map[string]string{"a":"1", "b":"2"}');
    class Stringer {
      toString() {
        return 'custom';
      }
    }
    expect(formatFieldValue(new Stringer())).toBe('custom');
  });
  it("invalidError prints kubectl's multi-line form", () => {
    const e = invalidError('Service', 'web', [
      fieldErrors.invalid(
        FieldPath.root('spec', 'ports').index(0).child('port'),
        0,
        'must be between 1 and 65535, inclusive',
      ),
    ]);
    expect(e.message).toBe(
      'The Service "web" is invalid: \n* spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive',
    );
  });
  it('invalidError prints a line identical to an earlier one once, as kubectl does', () => {
    const bad = () => fieldErrors.invalid(FieldPath.root('metadata', 'labels'), 'a b', 'bad');
    const other = fieldErrors.required(FieldPath.root('spec', 'ports'), '');
    const e = invalidError('Service', 'web', [bad(), other, bad()]);
    expect(e.message.split('\n')).toEqual([
      'The Service "web" is invalid: ',
      '* metadata.labels: Invalid value: "a b": bad',
      '* spec.ports: Required value',
    ]);
    expect(e.causes).toHaveLength(3);
  });
});
