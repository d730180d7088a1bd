/** React state mirroring the Phone: registration status and the current call. */
import { useEffect, useState } from 'react';
import type { CallState, Phone, RegistrationState } from '../sip/phone';

export function usePhoneState(phone: Phone): { registration: RegistrationState; detail?: string; call: CallState | null } {
  const [registration, setRegistration] = useState<{ state: RegistrationState; detail?: string }>({ state: phone.registration });
  const [call, setCall] = useState<CallState | null>(phone.call);
  useEffect(() => {
    const offReg = phone.on('registration', (state, detail) => setRegistration({ state, detail }));
    const offCall = phone.on('call', setCall);
    return () => {
      offReg();
      offCall();
    };
  }, [phone]);
  return { registration: registration.state, detail: registration.detail, call };
}
