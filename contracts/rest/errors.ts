/**
 * The error body every /api endpoint answers a 4xx/5xx with: a stable code for programs and a
 * sentence for people (what went wrong and what to do).
 */
import { z } from 'zod';

export const apiErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ApiErrorBody = z.infer<typeof apiErrorBody>;
