/** A microphone, camera or speaker picker; "Default" follows the system's choice. */
import type { DevicePreferences } from '../media/devices';

interface Props {
  label: string;
  devices: MediaDeviceInfo[] | undefined;
  value: string | undefined;
  preference: keyof DevicePreferences;
  onChange: (patch: Partial<DevicePreferences>) => void;
  className?: string;
}

export function DeviceSelect({ label, devices, value, preference, onChange, className }: Props) {
  return (
    <label className={className}>
      {label}
      <select value={value ?? ''} onChange={(e) => onChange({ [preference]: e.target.value || undefined })} disabled={!devices?.length}>
        <option value="">Default</option>
        {devices?.map((d, i) => (
          <option key={d.deviceId || i} value={d.deviceId}>
            {d.label || `${label} ${i + 1}`}
          </option>
        ))}
      </select>
    </label>
  );
}
