/** The people a user can call or chat with: GET /api/users?q=… (search by name, with who is reachable now). */
import { z } from 'zod';

export const directoryUser = z.object({
  username: z.string(),
  displayName: z.string(),
  /** Has at least one registered SIP device right now. */
  reachable: z.boolean(),
});
export type DirectoryUser = z.infer<typeof directoryUser>;

export const directoryResponse = z.object({ users: z.array(directoryUser) });
export type DirectoryResponse = z.infer<typeof directoryResponse>;
