/** Create a group chat: a name and who to invite. */
import { useRef, useState, type FormEvent } from 'react';
import { useDialog } from '../useDialog';

export function NewGroupDialog({ contacts, onClose, onCreate }: { contacts: Array<{ jid: string; name: string }>; onClose: () => void; onCreate: (name: string, members: string[]) => void }) {
  const [name, setName] = useState('');
  const [members, setMembers] = useState<string[]>([]);
  const form = useRef<HTMLFormElement>(null);
  useDialog(form, onClose, 'input');

  function submit(e: FormEvent) {
    e.preventDefault();
    if (name.trim()) onCreate(name.trim(), members);
  }

  return (
    <div className="modal-backdrop" onClick={onClose}>
      <form ref={form} className="card modal" role="dialog" aria-modal="true" aria-labelledby="new-group-title" onClick={(e) => e.stopPropagation()} onSubmit={submit}>
        <h2 id="new-group-title">New group chat</h2>
        <label>
          Name
          <input value={name} maxLength={60} placeholder="e.g. Physics 101 tutors" onChange={(e) => setName(e.target.value)} required />
        </label>
        <fieldset className="member-picker">
          <legend>Invite</legend>
          {contacts.length === 0 && <p className="muted small">Add contacts first; you can also invite people later.</p>}
          {contacts.map((c) => (
            <label key={c.jid} className="check">
              <input type="checkbox" checked={members.includes(c.jid)} onChange={(e) => setMembers(e.target.checked ? [...members, c.jid] : members.filter((m) => m !== c.jid))} />
              {c.name}
            </label>
          ))}
        </fieldset>
        <p className="muted small">Only invited people can join. The group and its history stay until it is deleted.</p>
        <div className="modal-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={!name.trim()}>
            Create group
          </button>
        </div>
      </form>
    </div>
  );
}
