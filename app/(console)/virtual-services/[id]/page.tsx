import { VirtualServiceForm } from '@/components/virtual-service-form';
import { RequirePermission } from '@/components/require-permission';

export const metadata = { title: 'Edit virtual service' };

// Every role may read a service's whole configuration here (config:read); one that may not change it
// (config:write) sees every control disabled, with the reason, instead of a form refused at submit.
export default async function EditVirtualServicePage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return (
    <RequirePermission permission="config:read" what="a virtual service">
      <VirtualServiceForm id={id} />
    </RequirePermission>
  );
}
