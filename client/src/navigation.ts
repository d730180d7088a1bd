/** Client-side navigation between the app (/) and meetings (/meet/<name>) without reloading. */
import { useEffect, useState } from 'react';
import { toMeetingName } from '../../contracts/meetings/meetingName';

const EVENT = 'parley:navigate';

export function navigate(path: string): void {
  history.pushState(null, '', path);
  window.dispatchEvent(new Event(EVENT));
}

/** The current location; re-renders on navigate() and on the browser's back/forward. */
export function useLocation(): { pathname: string; search: string } {
  const read = () => ({ pathname: location.pathname, search: location.search });
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const update = () => setLoc(read());
    window.addEventListener('popstate', update);
    window.addEventListener(EVENT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(EVENT, update);
    };
  }, []);
  return loc;
}

/** The meeting name in /meet/<name>, if the path is a meeting link. */
export function meetingNameOf(pathname: string): string | undefined {
  const m = /^\/meet\/([^/]+)\/?$/.exec(pathname);
  return m ? toMeetingName(m[1]) : undefined;
}
