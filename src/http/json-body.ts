// The JSON body parser every route shares (Stripe's webhook too, which keeps the text it parsed).
import type { FastifyRequest } from 'fastify';
import { httpProblem } from './problems.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The JSON body parser: bytes that are not UTF-8 are refused (decoding them would store
 * replacement characters), and an empty body is `{}`, so operations without fields (capture,
 * void, reversal) need none. The rest is Fastify's parser, which refuses __proto__ and constructor keys.
 */
export function jsonBodyParser(parse: (request: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => void) {
  return (request: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => {
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      done(httpProblem('malformed_json', 'the body is not valid UTF-8', [{ field: 'body', message: 'is not valid UTF-8' }]));
      return;
    }
    if (/^[ \t\r\n]*$/.test(text)) done(null, {});
    else parse(request, text, done);
  };
}
