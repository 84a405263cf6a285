import { ErrorCode } from '../../common/errors';
import { parseStreamOrder } from './stream-order';

describe('parseStreamOrder', () => {
  it('reads the stream order headers of a pipelined /notify', () => {
    expect(parseStreamOrder({})).toBeUndefined();
    expect(parseStreamOrder({ 'mimi-gateway-stream-seq': '12' })).toEqual({ last: 12 });
    expect(parseStreamOrder({ 'mimi-gateway-stream-seq': '12', 'mimi-gateway-stream-after': '9' })).toEqual({
      last: 12,
      after: 9,
    });
  });

  it.each([
    [{ 'mimi-gateway-stream-seq': 'x' }, 'must be one positive whole number'],
    [{ 'mimi-gateway-stream-seq': '0' }, 'must be one positive whole number'],
    [{ 'mimi-gateway-stream-seq': '99999999999999999' }, 'must be one positive whole number'],
    [{ 'mimi-gateway-stream-seq': ['1', '2'] }, 'must be one positive whole number'],
    [{ 'mimi-gateway-stream-after': '3' }, 'without mimi-gateway-stream-seq'],
    [{ 'mimi-gateway-stream-seq': '3', 'mimi-gateway-stream-after': '3' }, 'must be below'],
  ])('refuses %j with a 400 Malformed', (headers, message) => {
    expect(() => parseStreamOrder(headers)).toThrow(expect.objectContaining({ code: ErrorCode.Malformed }));
    expect(() => parseStreamOrder(headers)).toThrow(message);
  });
});
