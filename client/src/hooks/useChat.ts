/** React state mirroring the ChatClient's snapshot. */
import { useSyncExternalStore } from 'react';
import type { ChatClient, ChatState } from '../xmpp/chatClient';

export function useChatState(chat: ChatClient): ChatState {
  return useSyncExternalStore(
    (onChange) => chat.on('change', onChange),
    () => chat.state,
  );
}
