import { VirtualServiceForm } from '@/components/virtual-service-form';
import { RequirePermission } from '@/components/require-permission';

export const metadata = { title: 'New virtual service' };

export default function NewVirtualServicePage() {
  return (
    <RequirePermission permission="config:write" what="the form for a new virtual service">
      <VirtualServiceForm />
    </RequirePermission>
  );
}
