import { VirtualServiceForm } from '@/components/virtual-service-form';

export const metadata = { title: 'New virtual service' };

export default function NewVirtualServicePage() {
  return <VirtualServiceForm />;
}
